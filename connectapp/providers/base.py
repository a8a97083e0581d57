"""What every provider offers, and the plain data it hands back.

A provider does the protocol (with Authlib) and returns `TokenSet` and `Identity`; the
services decide what to store. Providers read settings on every call, so configuration can
change under tests and in the demo without rebuilding them.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import requests
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class TokenSet:
    """Credentials for one link. Secrets are left out of `repr`, so they never reach a log."""

    access_token: str = field(repr=False)
    token_secret: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Identity:
    external_id: str
    username: str


@dataclass(frozen=True)
class Authorization:
    """Where to send the browser, and what to keep server-side until it comes back.

    `flow_key` is the value the callback carries that names this flow (the OAuth 2.0 `state`,
    or the OAuth 1.0a request token); `pending` holds the flow's secrets (request token secret,
    PKCE verifier) and is stored encrypted in the server-side session.
    """

    url: str
    flow_key: str = field(repr=False)
    pending: dict[str, Any] = field(default_factory=dict, repr=False)


#: Scopes many OAuth 2.0 providers share (OpenID Connect's), in words.
COMMON_SCOPE_WORDS = {
    "openid": _("Confirm who you are"),
    "profile": _("See your basic profile (name and picture)"),
    "email": _("See your email address"),
    "offline_access": _("Stay connected while you are away"),
}


class Provider(ABC):
    name: ClassVar[str]
    display_name: ClassVar[str]
    #: What connecting lets this site do, in words, for the connections page.
    description: ClassVar[str] = ""
    #: Plain words for the scopes this provider knows, for the connections page.
    scope_words: ClassVar[Mapping[str, str]] = {}
    #: The callback parameter that names the flow (`state` or `oauth_token`).
    flow_key_param: ClassVar[str] = "state"
    #: Whether access tokens expire and are renewed with `refresh`.
    supports_refresh: ClassVar[bool] = False
    #: Whether this provider's one link is the site's own (client credentials), not a user's.
    app_level: ClassVar[bool] = False
    #: Where the provider's API lives: the API proxy forwards only below this URL ("" = none).
    api_base_url: str = ""

    @property
    @abstractmethod
    def configured(self) -> bool:
        """True when the app credentials are set."""

    @property
    def offers_revocation(self) -> bool:
        """Whether `revoke` ends the tokens at the provider; if not, people remove the app there."""
        return False

    def scopes(self) -> list[str]:
        return []

    def permissions(self, scopes: Iterable[str] | None = None) -> list[str]:
        """What `scopes` (by default those this site asks for) let this site do, in words.

        Known scopes read as `scope_words` (or the common OpenID Connect ones) say; unknown
        ones are shown as they are. Without scopes, the `description` is all there is to say.
        """
        scopes = self.scopes() if scopes is None else list(scopes)
        if not scopes:
            return [self.description] if self.description else []
        words = {**COMMON_SCOPE_WORDS, **self.scope_words}
        return list(dict.fromkeys(words.get(scope, scope) for scope in scopes))

    def flow_key(self, params: Mapping[str, str]) -> str:
        return params.get(self.flow_key_param, "")

    @abstractmethod
    def begin(self, callback_url: str) -> Authorization:
        """Start a flow: the URL to send the browser to, and what to keep until the callback."""

    @abstractmethod
    def finish(
        self, params: Mapping[str, str], pending: Mapping[str, Any], callback_url: str
    ) -> TokenSet:
        """Turn a callback into tokens; `FlowDeclined` when the user said no."""

    @abstractmethod
    def identity(self, tokens: TokenSet) -> Identity:
        """Who the tokens belong to; `AccessRevoked` when the provider refuses them."""

    def refresh(self, tokens: TokenSet) -> TokenSet:
        raise NotImplementedError(f"{self.display_name} tokens do not expire")

    def revoke(self, tokens: TokenSet) -> None:
        """Revoke the tokens at the provider, where it offers that (`offers_revocation`).

        Best effort: the caller has already forgotten the tokens and only logs a failure.
        """

    @abstractmethod
    def session(self, tokens: TokenSet) -> requests.Session:
        """A session that authenticates every request with the link's credentials."""
