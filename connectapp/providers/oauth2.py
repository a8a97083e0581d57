"""OAuth 2.0 authorization code (RFC 6749) with PKCE (RFC 7636), on Authlib's OAuth2Session.

A provider is described, not programmed: endpoints, client credentials, scopes and how they
are joined, the client authentication method and PKCE are plain attributes (or properties,
where a subclass reads settings). Pinterest is a few of those on top of this class; a provider
from configuration (`config.py`) is an instance with them set. `ClientCredentialsProvider` is
the same description used for the site's own token (RFC 6749 §4.4) instead of a user's.

Authlib does the protocol. A compliance hook looks at every token endpoint answer before
Authlib parses it and turns error bodies of any shape into our typed errors.
"""

import math
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from django.utils.translation import gettext

from connectapp import conf
from connectapp.exceptions import (
    AccessRevoked,
    FlowDeclined,
    FlowError,
    ProviderError,
    ProviderUnavailable,
    UnusableAnswer,
)

from . import http
from .base import Authorization, Identity, Provider, TokenSet

#: RFC 6749 §5.2 errors that blame this site's app credentials, not the user's grant: a
#: misconfigured site must not send every user to reconnect.
CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
#: RFC 6749 errors that say "not now" rather than "no".
OUTAGE_ERRORS = frozenset({"temporarily_unavailable", "server_error"})
#: The statuses a token endpoint refuses a grant with (RFC 6749 §5.2: 400, and 401 for client
#: authentication; some providers answer 403). Any other 4xx (404, 405, 408, 409, 422…) is a
#: fault on the way, not the provider's "no", and must not send anyone to reconnect.
REFUSAL_STATUSES = frozenset({400, 401, 403})
STATE_LENGTH = 48
#: RFC 7636 §4.1: 43 to 128 unreserved characters.
CODE_VERIFIER_LENGTH = 64
#: A number of seconds some providers send as a string.
SECONDS = re.compile(r"[0-9]{1,12}")
#: The longest lifetime of a token believed (ten years); a longer one is a broken answer.
MAX_LIFETIME_SECONDS = 10 * 365 * 24 * 60 * 60


def _moment(epoch: int | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)


def _seconds(value: Any, name: str, provider: str, *, since: float = 0.0) -> int | None:
    """Return a number of seconds of a token answer (plus `since`), or None when it is absent.

    Numbers only (a string of digits too, as some providers send), finite, not negative and
    at most `MAX_LIFETIME_SECONDS` after `since`; `true` is not a number here.
    """
    if value is None:
        return None
    if isinstance(value, str) and SECONDS.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UnusableAnswer(provider, f"a token whose {name} is not a number of seconds")
    if not 0 <= value <= since + MAX_LIFETIME_SECONDS:
        raise UnusableAnswer(provider, f"a token whose {name} is out of range")
    return int(value)


def _credential(value: Any, name: str, provider: str) -> str:
    """Return a token of a token answer, fit to send in a header; "" when it is absent."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not http.TOKEN.fullmatch(value):
        raise UnusableAnswer(provider, f"a {name} that is not a token")
    return value


def token_answer(body: Mapping[str, Any], provider: str) -> dict[str, Any]:
    """Return the checked token of a successful token endpoint answer, in Authlib's shape.

    Every field is checked once, here: the access token and refresh token are visible ASCII
    (they go into headers), `token_type` is Bearer, expiries are sane numbers of seconds
    (`expires_in: 0` is already expired) and the scope is a string or a list of strings.
    Expiries come back as epoch seconds (`expires_at`, `refresh_expires_at`). Anything else
    raises `UnusableAnswer`, naming the field and never its value.
    """
    access_token = _credential(body.get("access_token"), "access token", provider)
    if not access_token:
        raise UnusableAnswer(provider, "a token answer without an access token")
    token_type = body.get("token_type")
    if token_type is not None and (
        not isinstance(token_type, str) or token_type.lower() != "bearer"
    ):
        raise UnusableAnswer(provider, "a token that is not a Bearer token")
    now = time.time()
    token: dict[str, Any] = {"access_token": access_token, "token_type": "bearer"}
    refresh_token = _credential(body.get("refresh_token"), "refresh token", provider)
    if refresh_token:
        token["refresh_token"] = refresh_token
    expires_at = _seconds(body.get("expires_at"), "expires_at", provider, since=now)
    if expires_at is None:
        lifetime = _seconds(body.get("expires_in"), "expires_in", provider)
        expires_at = None if lifetime is None else int(now) + lifetime
    if expires_at is not None:
        token["expires_at"] = expires_at
    refresh_expires_at = _seconds(
        body.get("refresh_token_expires_at"), "refresh_token_expires_at", provider, since=now
    )
    for name in ("refresh_token_expires_in", "refresh_expires_in"):
        if refresh_expires_at is None:
            lifetime = _seconds(body.get(name), name, provider)
            refresh_expires_at = None if lifetime is None else int(now) + lifetime
    if refresh_expires_at is not None:
        token["refresh_expires_at"] = refresh_expires_at
    scope = body.get("scope")
    if isinstance(scope, list) and all(isinstance(part, str) for part in scope):
        scope = " ".join(scope)
    if scope is not None and not isinstance(scope, str):
        raise UnusableAnswer(provider, "a token whose scope is not a list of scopes")
    if scope is not None:
        token["scope"] = scope
    return token


def _at(body: Any, path: str) -> Any:
    """The value at a dotted JSON path (`data.user.id`; list items by index), or None."""
    value = body
    for key in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def _identifier(value: Any) -> str | None:
    """An account id or name is a string or a number; anything else is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    return str(value)


def _printable(value: str, limit: int = 80) -> str:
    """A callback parameter fit to quote in a message: short, with no surprising characters."""
    return re.sub(r"[^\w .:-]", "", value)[:limit]


def _revocation_error(response: requests.Response) -> str:
    """The HTTP status, and the RFC 7009 error code when the answer has a well-formed one.

    Only the code: a description is free text a server may fill with the token it refused.
    """
    body = http.parsed(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str) and re.fullmatch(r"[a-z_]{1,64}", error):
        return f"HTTP {response.status_code}: {error}"
    return f"HTTP {response.status_code}"


class ProviderSession(http.GuardedSession, OAuth2Session):
    """Authlib's OAuth 2.0 session, with every request guarded (`http.GuardedSession`)."""


class OAuth2Provider(Provider):
    """The authorization code grant, with refresh tokens that may rotate."""

    supports_refresh = True

    authorize_url: str = ""
    token_url: str = ""
    #: Where `identity` asks who the token belongs to (Bearer).
    userinfo_url: str = ""
    #: The RFC 7009 revocation endpoint; empty when the provider offers none.
    revocation_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    #: What `scopes()` asks for unless a subclass reads it from elsewhere.
    default_scopes: Sequence[str] = ()
    #: RFC 6749 joins scopes with spaces; some providers (Pinterest) use commas.
    scope_separator: str = " "
    #: `client_secret_basic` (HTTP Basic) or `client_secret_post` (in the form body).
    token_endpoint_auth_method: str = "client_secret_basic"
    use_pkce: bool = True
    #: Extra query parameters of the authorize URL (`prompt`, `access_type`, …).
    authorize_params: Mapping[str, str] = {}
    #: Extra form fields sent with every token request (`audience`, `resource`, …).
    token_params: Mapping[str, str] = {}
    #: Extra form fields sent with every refresh request only.
    refresh_params: Mapping[str, str] = {}
    #: Where the account id and name are in the userinfo answer, as dotted JSON paths; the
    #: first present wins.
    id_fields: Sequence[str] = ("sub", "id")
    username_fields: Sequence[str] = ("preferred_username", "username", "login", "name")

    def __init__(self, **attributes: Any) -> None:
        """Describe a provider per instance (how `config.py` builds one from a TOML table)."""
        described = {name for klass in type(self).__mro__ for name in vars(klass)} | {
            name for klass in type(self).__mro__ for name in getattr(klass, "__annotations__", {})
        }
        for name, value in attributes.items():
            if name not in described:
                raise TypeError(f"{type(self).__name__} has no attribute {name!r}")
            setattr(self, name, value)

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret and self.authorize_url and self.token_url)

    @property
    def offers_revocation(self) -> bool:
        return bool(self.revocation_url)

    def scopes(self) -> list[str]:
        return list(self.default_scopes)

    # --- the flow -----------------------------------------------------------------------

    def begin(self, callback_url: str) -> Authorization:
        verifier = generate_token(CODE_VERIFIER_LENGTH) if self.use_pkce else None
        with self._client(redirect_uri=callback_url) as client:
            url, state = client.create_authorization_url(
                self.authorize_url,
                state=generate_token(STATE_LENGTH),
                code_verifier=verifier,
                scope=self.scope_separator.join(self.scopes()),
                **self.authorize_params,
            )
        return Authorization(
            url=url, flow_key=state, pending={"code_verifier": verifier} if verifier else {}
        )

    def finish(
        self, params: Mapping[str, str], pending: Mapping[str, Any], callback_url: str
    ) -> TokenSet:
        error = params.get("error", "")
        if error == "access_denied":
            raise FlowDeclined(
                gettext("You declined the connection at %(provider)s.")
                % {"provider": self.display_name}
            )
        if error:
            raise FlowError(
                gettext(
                    "%(provider)s did not authorize the connection (%(error)s). Please start again."
                )
                % {"provider": self.display_name, "error": _printable(error)}
            )
        code = params.get("code", "")
        if not code:
            raise FlowError(
                gettext(
                    "The answer from %(provider)s carries no authorization code. "
                    "Please start again."
                )
                % {"provider": self.display_name}
            )
        client = self._client(redirect_uri=callback_url)
        with client, http.transport_errors(self.display_name):
            token = client.fetch_token(
                self.token_url,
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.get("code_verifier"),
                **self.token_params,
            )
        return self._token_set(token)

    def refresh(self, tokens: TokenSet) -> TokenSet:
        """New tokens for old; the refresh token is returned only when the provider rotated it."""
        if not tokens.refresh_token:
            raise AccessRevoked(f"{self.display_name} gave this link no refresh token")
        with self._client() as client, http.transport_errors(self.display_name):
            token = client.refresh_token(
                self.token_url,
                refresh_token=tokens.refresh_token,
                **{**self.token_params, **self.refresh_params},
            )
        return self._token_set(token, previous=tokens)

    def revoke(self, tokens: TokenSet) -> None:
        """Revoke the link's grant at the provider (RFC 7009), when it has a revocation URL.

        The refresh token is the one revoked when there is one: revoking it ends the grant,
        and a server that can revoke access tokens then revokes those issued with it too
        (RFC 7009 §2.1). `ProviderUnavailable` when the server could not answer, and
        `ProviderError` when it refused; the message names the provider and the HTTP status or
        RFC error code, never a token.
        """
        if not self.revocation_url:
            return
        if tokens.refresh_token:
            token, hint = tokens.refresh_token, "refresh_token"
        else:
            token, hint = tokens.access_token, "access_token"
        if not token:
            return
        with self._client() as client, http.transport_errors(self.display_name):
            response = client.revoke_token(self.revocation_url, token=token, token_type_hint=hint)
        http.raise_for_outage(response, self.display_name)
        if response.status_code != 200:
            raise ProviderError(
                f"{self.display_name} did not revoke the {hint.replace('_', ' ')} "
                f"({_revocation_error(response)})"
            )

    def identity(self, tokens: TokenSet) -> Identity:
        with self.session(tokens) as session, http.transport_errors(self.display_name):
            response = session.get(self.userinfo_url, headers={"Accept": "application/json"})
        if response.status_code in (401, 403):
            raise AccessRevoked(
                f"{self.display_name} refused the access token ({http.error_message(response)})"
            )
        http.raise_for_outage(response, self.display_name)
        if not response.ok:
            raise ProviderUnavailable(
                f"{self.display_name} answered {http.error_message(response)} to a userinfo request"
            )
        return self.identity_from(http.json_body(response, self.display_name))

    def identity_from(self, body: Mapping[str, Any]) -> Identity:
        """The account in a userinfo answer; an answer without an id is not an answer."""
        ids = (_identifier(_at(body, path)) for path in self.id_fields)
        external_id = next((value for value in ids if value is not None), None)
        if external_id is None:
            raise ProviderUnavailable(f"{self.display_name} answered an account without an id")
        names = (_identifier(_at(body, path)) for path in self.username_fields)
        username = next((value for value in names if value is not None), external_id)
        return Identity(external_id=external_id, username=username)

    def session(self, tokens: TokenSet) -> requests.Session:
        """Bearer-authorized; it never refreshes by itself (`services.get_access_token` does)."""
        return self._client(token={"access_token": tokens.access_token, "token_type": "bearer"})

    # --- Authlib, and what its token endpoint answers mean --------------------------------

    def _client(self, **options: Any) -> OAuth2Session:
        client = ProviderSession(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method=self.token_endpoint_auth_method,
            revocation_endpoint_auth_method=self.token_endpoint_auth_method,
            code_challenge_method="S256" if self.use_pkce else None,
            **options,
        )
        client.provider_name = self.display_name
        client.headers["User-Agent"] = conf.value("USER_AGENT")
        client.register_compliance_hook("access_token_response", self._check_token_response)
        client.register_compliance_hook("refresh_token_response", self._check_token_response)
        return http.keep_alive(client)

    def _check_token_response(self, response: requests.Response) -> requests.Response:
        """Pass on only a usable token answer; raise the typed error any other answer means.

        Outages, garbage, `temporarily_unavailable` and 4xx statuses that are not refusals are
        `ProviderUnavailable`; a refusal of our app credentials is too (the operator fixes it,
        the links stay); any other refusal (`invalid_grant`, 401, a 400 or 403 with the
        provider's own error body) is `AccessRevoked`.
        """
        http.raise_for_outage(response, self.display_name)
        body = http.parsed(response)
        if not isinstance(body, dict):
            body = None
        if response.ok and body is not None and not body.get("error"):
            token = token_answer(body, self.display_name)
            # Authlib reads the answer again with `json()`: it gets the checked token, so the
            # body is parsed once and Authlib never sees a field we did not check.
            response.json = lambda **_options: token
            return response
        if response.ok:
            raise UnusableAnswer(self.display_name, "something that is not a token")
        message = http.error_message(response)
        if body is not None and body.get("error") in CLIENT_ERRORS:
            raise ProviderUnavailable(
                f"{self.display_name} refused this site's app credentials ({message}); "
                "check the client id and secret"
            )
        refused = response.status_code == 401 or (
            body is not None and response.status_code in REFUSAL_STATUSES
        )
        if refused and (body is None or body.get("error") not in OUTAGE_ERRORS):
            raise AccessRevoked(message)
        raise ProviderUnavailable(f"{self.display_name} answered {message}")

    def _token_set(self, token: Mapping[str, Any], *, previous: TokenSet | None = None) -> TokenSet:
        refresh_token = token.get("refresh_token", "")
        refresh_expires_at = _moment(token.get("refresh_expires_at"))
        if previous is not None and refresh_token == previous.refresh_token:
            # Authlib fills in the old refresh token when none came back: it was not rotated.
            refresh_token = "" if refresh_expires_at is None else refresh_token
        scope = token.get("scope")
        if isinstance(scope, str):
            scopes = tuple(part for part in re.split(r"[\s,]+", scope) if part)
        else:
            scopes = previous.scopes if previous is not None else tuple(self.scopes())
        return TokenSet(
            access_token=token["access_token"],
            refresh_token=refresh_token,
            expires_at=_moment(token.get("expires_at")),
            refresh_expires_at=refresh_expires_at if refresh_token else None,
            scopes=scopes,
        )


class ClientCredentialsProvider(OAuth2Provider):
    """The client credentials grant (RFC 6749 §4.4): a token for this site itself, no user.

    Its one link has no user and nothing to connect. The grant issues no refresh token
    (§4.4.3), so `refresh` obtains a new token the same way as the first one.
    """

    app_level = True
    use_pkce = False

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret and self.token_url)

    def begin(self, callback_url: str) -> Authorization:
        raise FlowError(
            gettext("%(provider)s is connected by this site itself, not by its users.")
            % {"provider": self.display_name}
        )

    def finish(
        self, params: Mapping[str, str], pending: Mapping[str, Any], callback_url: str
    ) -> TokenSet:
        raise FlowError(
            gettext("%(provider)s is connected by this site itself, not by its users.")
            % {"provider": self.display_name}
        )

    def obtain(self) -> TokenSet:
        """A new token for this site's app credentials."""
        with self._client() as client, http.transport_errors(self.display_name):
            token = client.fetch_token(
                self.token_url,
                grant_type="client_credentials",
                scope=self.scope_separator.join(self.scopes()),
                **self.token_params,
            )
        return self._token_set(token)

    def refresh(self, tokens: TokenSet) -> TokenSet:
        return self.obtain()

    def identity(self, tokens: TokenSet) -> Identity:
        """The app itself: a client-credentials token stands for this site, not an account."""
        return Identity(external_id=self.client_id, username=self.display_name)
