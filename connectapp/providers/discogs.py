"""Discogs: OAuth 1.0a (RFC 5849). Tokens do not expire; Discogs requires a User-Agent.

The flow: a signed request for a request token (carrying our callback), the browser at
Discogs' authorize page, a callback with `oauth_token` + `oauth_verifier` (or `denied`), a
signed exchange for the access token, then `/oauth/identity`. Authlib does every signature;
this module only says which credentials sign what, and what Discogs' answers mean.

Discogs offers no API to revoke an access token (people revoke apps in their Discogs
settings), so `revoke` is the base class's no-op and disconnecting forgets the tokens here.
"""

from collections.abc import Mapping
from functools import partial
from typing import Any

import requests
from authlib.common.urls import add_params_to_uri
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth1Session
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext, gettext_lazy

from connectapp import conf
from connectapp.exceptions import (
    AccessRevoked,
    AppCredentialsRefused,
    AuthorizationRefused,
    FlowDeclined,
    FlowError,
    ProviderUnavailable,
    UnusableAnswer,
)

from .base import Authorization, Identity, Provider, TokenSet
from .http import (
    TOKEN,
    GuardedSession,
    error_message,
    json_body,
    keep_alive,
    raise_for_outage,
    transport_errors,
)

SIGNATURE_METHODS = ("HMAC-SHA1", "PLAINTEXT")
PROVIDER = "Discogs"
#: The credentials of Discogs' token answers; each is later sent in an Authorization header.
TOKEN_FIELDS = ("oauth_token", "oauth_token_secret")


class DiscogsSession(GuardedSession, OAuth1Session):
    """A `requests` session that signs every request with one set of Discogs credentials.

    It sends `CONNECTAPP_USER_AGENT` (Discogs refuses requests without a User-Agent), guards
    every request like every provider call (`GuardedSession`: a deadline, a size cap, no
    redirects), and resolves paths that start with `/` against `DISCOGS_API_URL`, so callers
    write `session.get("/oauth/identity")`.
    """

    provider_name = PROVIDER

    def __init__(self, **credentials: Any):
        method = conf.value("DISCOGS_SIGNATURE_METHOD")
        if method not in SIGNATURE_METHODS:
            raise ImproperlyConfigured(
                f"DISCOGS_SIGNATURE_METHOD must be one of {', '.join(SIGNATURE_METHODS)}."
            )
        super().__init__(
            conf.value("DISCOGS_CONSUMER_KEY"),
            conf.value("DISCOGS_CONSUMER_SECRET"),
            signature_method=method,
            **credentials,
        )
        self.headers["User-Agent"] = conf.value("USER_AGENT")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if url.startswith("/"):
            url = conf.value("DISCOGS_API_URL").rstrip("/") + url
        return super().request(method, url, *args, **kwargs)


def _outages_raise(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Response hook for our own calls: 429 and 5xx become `ProviderUnavailable` at once."""
    raise_for_outage(response, PROVIDER)


class Discogs(Provider):
    name = "discogs"
    display_name = "Discogs"
    description = gettext_lazy(
        "See your Discogs username and act on your collection and wantlist for you."
    )
    flow_key_param = "oauth_token"

    @property
    def configured(self) -> bool:
        return bool(conf.value("DISCOGS_CONSUMER_KEY") and conf.value("DISCOGS_CONSUMER_SECRET"))

    @property
    def api_base_url(self) -> str:
        return conf.value("DISCOGS_API_URL").rstrip("/")

    def flow_key(self, params: Mapping[str, str]) -> str:
        """The request token names the flow, whether it comes back approved or `denied`."""
        return params.get("oauth_token") or params.get("denied", "")

    def begin(self, callback_url: str) -> Authorization:
        with self._client(redirect_uri=callback_url) as client:
            token = self._fetch_token(
                client.fetch_request_token,
                self._url("/oauth/request_token"),
                refused=partial(AppCredentialsRefused, "Discogs"),
            )
        if token.get("oauth_callback_confirmed") != "true" or not token.get("oauth_token_secret"):
            raise ProviderUnavailable("Discogs answered a request token we cannot use")
        url = add_params_to_uri(
            conf.value("DISCOGS_AUTHORIZE_URL"), [("oauth_token", token["oauth_token"])]
        )
        return Authorization(
            url=url,
            flow_key=token["oauth_token"],
            pending={"token_secret": token["oauth_token_secret"]},
        )

    def finish(
        self, params: Mapping[str, str], pending: Mapping[str, Any], callback_url: str
    ) -> TokenSet:
        if params.get("denied"):
            raise FlowDeclined(gettext("You declined the connection at Discogs."))
        verifier = params.get("oauth_verifier", "")
        if not verifier:
            raise FlowError(
                gettext(
                    "The answer from Discogs has no verifier, so the connection cannot be "
                    "completed. Please start again."
                )
            )
        with self._client(
            token=params["oauth_token"], token_secret=pending["token_secret"]
        ) as client:
            token = self._fetch_token(
                partial(client.fetch_access_token, verifier=verifier),
                self._url("/oauth/access_token"),
                refused=partial(AuthorizationRefused, "Discogs"),
            )
        if not token.get("oauth_token_secret"):
            raise ProviderUnavailable("Discogs answered an access token we cannot use")
        return TokenSet(access_token=token["oauth_token"], token_secret=token["oauth_token_secret"])

    def identity(self, tokens: TokenSet) -> Identity:
        with (
            self._client(token=tokens.access_token, token_secret=tokens.token_secret) as client,
            transport_errors(PROVIDER),
        ):
            response = client.get(self._url("/oauth/identity"))
        if response.status_code == 401:
            raise AccessRevoked("Discogs no longer accepts this link's credentials (HTTP 401)")
        if response.status_code != 200:
            # Not Discogs' "no" to these credentials: leave the link alone and try again later.
            raise ProviderUnavailable(f"Discogs identity failed: {error_message(response)}")
        body = json_body(response, PROVIDER)
        if body.get("id") in (None, "") or not isinstance(body.get("username"), str):
            raise ProviderUnavailable("Discogs answered an identity without id and username")
        return Identity(external_id=str(body["id"]), username=body["username"])

    def session(self, tokens: TokenSet) -> requests.Session:
        return DiscogsSession(token=tokens.access_token, token_secret=tokens.token_secret)

    # --- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _url(path: str) -> str:
        return conf.value("DISCOGS_API_URL").rstrip("/") + path

    @staticmethod
    def _client(**credentials: Any) -> DiscogsSession:
        client = DiscogsSession(**credentials)
        client.hooks["response"].append(_outages_raise)
        return keep_alive(client)

    @staticmethod
    def _fetch_token(fetch, url: str, *, refused) -> dict[str, str]:
        """Run one of Authlib's token requests and turn its failures into our typed errors.

        Outages are raised by the response hook; any other 4xx is Discogs refusing the request
        (`refused()` says what that means at this step); a 200 we cannot read is an outage.
        Authlib's messages quote the response body, so they are never passed on.
        """
        try:
            with transport_errors(PROVIDER):
                token = fetch(url)
        except OAuthError as error:
            if error.error == "fetch_token_denied":
                raise refused() from None
            raise ProviderUnavailable("Discogs answered a token response without a token") from None
        except ValueError:
            raise ProviderUnavailable("Discogs answered a token response we cannot read") from None
        if not token.get("oauth_token"):
            raise ProviderUnavailable("Discogs answered a token response without a token")
        if any(name in token and not TOKEN.fullmatch(token[name]) for name in TOKEN_FIELDS):
            raise UnusableAnswer(PROVIDER, "a token that cannot be sent in a header")
        return token
