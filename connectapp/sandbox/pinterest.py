"""A stand-in for Pinterest's OAuth 2.0, served under /sandbox/pinterest/ in sandbox mode.

It behaves as Pinterest documents, strictly: the `oauth/` page (approve as a username, or
deny: back to the redirect URI with `error=access_denied`), `v5/oauth/token` (POST, form body,
HTTP Basic client authentication and nothing else) and `v5/user_account` (Bearer). Codes are
single-use, expire, and are bound to the client, the redirect URI and the PKCE challenge when
one was given; a replayed code also kills the tokens it bought. Refresh tokens rotate when the
client asks for continuous refresh (the old one dies at that moment). Errors are Pinterest's
`{"code": n, "message": "…"}`, except an unusable refresh token: RFC 6749 `invalid_grant`.

oauthlib's OAuth 2.0 server endpoints check every request (client authentication, codes,
PKCE S256, redirect URIs, refresh and bearer tokens) against the stand-in's memory through
`Validator`; the views say only what Pinterest says differently (its error shape, its token
answer, comma-joined scopes, S256 only, HTTP Basic only).

State lives in memory (`standin`, guarded by a lock), so tests in the same process can set
token lifetimes, issue tokens, read the call log (how many token requests arrived) and inject
outages (`inject_fault`): errors, 429 with `Retry-After`, latency, garbage and truncated bodies.
"""

import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import NoReturn
from urllib.parse import urlencode, urlsplit

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_http_methods
from oauthlib.common import Request as OAuthRequest
from oauthlib.common import add_params_to_uri
from oauthlib.oauth2 import RequestValidator, WebApplicationServer
from oauthlib.oauth2.rfc6749 import errors

from .common import Fault, StandIn, sandbox_only

DAY = 24 * 60 * 60
API_ENDPOINTS = ("token", "user_account")
SCOPE = re.compile(r"^[a-z_]+:[a-z_]+$")
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,30}$")
#: What the authorize page offers, so a person trying the demo can watch the schedule refresh.
LIFETIME_CHOICES = (
    (0, gettext_lazy("Pinterest's usual: 30 days")),
    (DAY, gettext_lazy("1 day: the schedule refreshes it within minutes")),
    (120, gettext_lazy("2 minutes: already expired when next used")),
)
#: What an authorization request carries through the authorize page's form.
AUTHORIZE_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
#: Pinterest's error code by HTTP status, for answers other than a token.
ERROR_CODES = {400: 1, 401: 2, 405: 405, 429: 8}
#: Pinterest's words for oauthlib's refusals at the token endpoint that carry no description.
#: Every refusal of a code the validator makes says why, so a bare `invalid_grant` there is
#: oauthlib's own PKCE comparison.
TOKEN_REFUSALS = {
    "invalid_client": "Authentication failed.",
    "invalid_grant": "code_verifier does not match the code_challenge.",
    "unsupported_grant_type": "Unsupported grant_type.",
    "unauthorized_client": "This app may not use this grant_type.",
    "invalid_scope": "The requested scope is more than the refresh token grants.",
}
_CLIENT_PROBLEM = gettext_lazy("This app (client_id) is not registered.")
_REDIRECT_PROBLEM = gettext_lazy("redirect_uri must be an absolute http(s) URL.")
_RESPONSE_TYPE_PROBLEM = gettext_lazy("response_type must be code.")
#: What the authorize page says for oauthlib's refusals of an authorization request.
AUTHORIZE_PROBLEMS = {
    errors.MissingClientIdError: _CLIENT_PROBLEM,
    errors.InvalidClientIdError: _CLIENT_PROBLEM,
    errors.MissingRedirectURIError: _REDIRECT_PROBLEM,
    errors.InvalidRedirectURIError: _REDIRECT_PROBLEM,
    errors.MismatchingRedirectURIError: _REDIRECT_PROBLEM,
    errors.MissingResponseTypeError: _RESPONSE_TYPE_PROBLEM,
    errors.UnsupportedResponseTypeError: _RESPONSE_TYPE_PROBLEM,
    errors.UnauthorizedClientError: _RESPONSE_TYPE_PROBLEM,
    errors.InvalidScopeError: gettext_lazy(
        "scope must be a comma-separated list of scopes such as boards:read."
    ),
    errors.UnsupportedCodeChallengeMethodError: gettext_lazy(
        "Only the S256 code_challenge_method is supported."
    ),
}


@dataclass
class Code:
    client_id: str
    redirect_uri: str
    username: str
    scopes: tuple[str, ...]
    challenge: str
    created: float
    access_lifetime: int


@dataclass
class Grant:
    """What an access or refresh token stands for."""

    username: str
    scopes: tuple[str, ...]
    expires: float
    access_lifetime: int
    code: str = ""


@dataclass
class Client:
    """An app as oauthlib knows it once it authenticated."""

    client_id: str


@dataclass
class Call:
    """One API request as the stand-in saw it (never its secrets)."""

    endpoint: str
    method: str
    user_agent: str
    auth_scheme: str
    grant_type: str = ""
    status: int = 0


@dataclass
class _State:
    access_token_lifetime: int = 30 * DAY
    refresh_token_lifetime: int = 365 * DAY
    code_lifetime: int = 10 * 60
    continuous_refresh: bool = True
    apps: dict[str, str] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    spent_codes: set[str] = field(default_factory=set)
    access_tokens: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)


class PinterestStandIn(StandIn):
    api_endpoints = API_ENDPOINTS
    state_class = _State
    app_settings = ("PINTEREST_CLIENT_ID", "PINTEREST_CLIENT_SECRET")
    garbage_page = "<html><body>Pinterest is having a moment</body></html>"
    cut_short = ('{"access_token": "cut-short", "id": "cut-short"}', "application/json")

    # --- how Pinterest answers -------------------------------------------------------------

    def describe(self, request: HttpRequest, endpoint: str) -> Call:
        return Call(
            endpoint=endpoint,
            method=request.method,
            user_agent=request.headers.get("User-Agent", ""),
            auth_scheme=request.headers.get("Authorization", "").partition(" ")[0],
            grant_type=request.POST.get("grant_type", "") if request.method == "POST" else "",
        )

    def too_many_requests(self) -> HttpResponse:
        return _error(429, "Rate limit exceeded.")

    def server_error(self, status: int) -> HttpResponse:
        return JsonResponse({"code": 0, "message": "Something went wrong."}, status=status)

    # --- settings -------------------------------------------------------------------------

    def set_lifetimes(self, *, access: int | None = None, refresh: int | None = None) -> None:
        """Token lifetimes in seconds for tokens issued from now on (tests make them short)."""
        with self._lock:
            if access is not None:
                self._state.access_token_lifetime = access
            if refresh is not None:
                self._state.refresh_token_lifetime = refresh

    def set_continuous_refresh(self, enabled: bool) -> None:
        """Whether a refresh that asks for a new refresh token gets one (apps enrolled in
        continuous refresh) or only a new access token (legacy apps)."""
        with self._lock:
            self._state.continuous_refresh = enabled

    def access_lifetime(self, grant: Grant) -> int:
        """Return how long an access token for `grant` lives, in seconds."""
        with self._lock:
            return grant.access_lifetime or self._state.access_token_lifetime

    def refresh_lifetime(self) -> int:
        """Return how long a refresh token issued now lives, in seconds."""
        with self._lock:
            return self._state.refresh_token_lifetime

    # --- the flow -------------------------------------------------------------------------

    def user_id(self, username: str) -> str:
        with self._lock:
            return self._state.user_ids.setdefault(
                username, str(549755813888 + len(self._state.user_ids))
            )

    def save_code(self, code: str, pending: Code) -> None:
        with self._lock:
            self._state.codes[code] = pending

    def take_code(self, code: str) -> Code | None:
        """Return a live code's authorization, once: it is spent whatever follows. A replayed
        code also revokes what it bought (RFC 6749 §4.1.2)."""
        with self._lock:
            pending = self._state.codes.pop(code, None)
            if pending is None:
                if code in self._state.spent_codes:
                    self._revoke_where(lambda grant: grant.code == code)
                return None
            self._state.spent_codes.add(code)
            return pending

    def code_expired(self, pending: Code) -> bool:
        with self._lock:
            return pending.created < time.time() - self._state.code_lifetime

    def use_refresh_token(self, refresh_token: str, continuous: bool) -> tuple[Grant, bool] | None:
        """Return what a live refresh token grants and whether it rotates (it dies now if so),
        or None for a token that is unknown, expired or used."""
        with self._lock:
            grant = self._state.refresh_tokens.get(refresh_token)
            if grant is None or grant.expires <= time.time():
                return None
            rotate = continuous and self._state.continuous_refresh
            if rotate:
                del self._state.refresh_tokens[refresh_token]
            return grant, rotate

    def save_tokens(self, answer: dict, grant: Grant) -> None:
        """Remember the tokens of a token answer as standing for `grant`."""
        now = time.time()
        with self._lock:
            self._state.access_tokens[answer["access_token"]] = replace(
                grant, expires=now + answer["expires_in"]
            )
            if "refresh_token" in answer:
                self._state.refresh_tokens[answer["refresh_token"]] = replace(
                    grant, expires=now + answer["refresh_token_expires_in"]
                )

    def issue_tokens(
        self, username: str, scopes: tuple[str, ...] = ("user_accounts:read",)
    ) -> dict:
        """A token answer as if `username` had approved this app (for tests)."""
        return _issue_tokens(Grant(username, scopes, 0.0, 0))

    def account_for(self, access_token: str) -> dict | None:
        with self._lock:
            grant = self._state.access_tokens.get(access_token)
            if grant is None or grant.expires <= time.time():
                return None
            return {
                "account_type": "PINNER",
                "id": self.user_id(grant.username),
                "username": grant.username,
                "profile_image": "",
                "website_url": "",
                "board_count": 0,
                "pin_count": 0,
            }

    def revoke_user(self, username: str) -> int:
        """The person removes this app in their Pinterest settings; answers how many tokens died."""
        with self._lock:
            return self._revoke_where(lambda grant: grant.username == username)

    def _revoke_where(self, condition: Callable[[Grant], bool]) -> int:
        """Within the lock."""
        revoked = 0
        for tokens in (self._state.access_tokens, self._state.refresh_tokens):
            for token in [token for token, grant in tokens.items() if condition(grant)]:
                del tokens[token]
                revoked += 1
        return revoked

    def refresh_token_is_live(self, refresh_token: str) -> bool:
        with self._lock:
            grant = self._state.refresh_tokens.get(refresh_token)
            return grant is not None and grant.expires > time.time()


standin = PinterestStandIn()


def _scopes(values: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Return Pinterest's comma-joined scopes one by one (oauthlib splits on spaces only)."""
    return tuple(scope for value in values or () for scope in value.split(","))


def _refuse_grant(message: str, request: OAuthRequest) -> NoReturn:
    raise errors.InvalidGrantError(description=message, request=request)


class Validator(RequestValidator):
    """oauthlib's checks against the stand-in's memory.

    A refusal whose reason the client should read raises oauthlib's error in Pinterest's words;
    a plain False leaves the words to oauthlib (and `TOKEN_REFUSALS`). What a code or refresh
    token stands for travels on oauthlib's request as `grant` (and `pending`, `rotate`).
    """

    # The authorize page.
    def validate_client_id(self, client_id, request):
        return standin.app_secret(client_id) is not None

    def validate_redirect_uri(self, client_id, redirect_uri, request):
        parts = urlsplit(redirect_uri)
        return parts.scheme in ("http", "https") and bool(parts.netloc)

    def get_default_redirect_uri(self, client_id, request):
        return None

    def validate_response_type(self, client_id, response_type, client, request):
        return response_type == "code"

    def get_default_scopes(self, client_id, request):
        return []

    def validate_scopes(self, client_id, scopes, client, request):
        scopes = _scopes(scopes)
        return bool(scopes) and all(SCOPE.match(scope) for scope in scopes)

    def is_pkce_required(self, client_id, request):
        return False

    def save_authorization_code(self, client_id, code, request):
        standin.save_code(
            code["code"],
            Code(
                client_id,
                request.redirect_uri,
                request.user,
                _scopes(request.scopes),
                request.code_challenge or "",
                time.time(),
                request.access_lifetime,
            ),
        )

    # The token endpoint: HTTP Basic client authentication and nothing else.
    def client_authentication_required(self, request, *args, **kwargs):
        return True

    def authenticate_client(self, request, *args, **kwargs):
        try:
            client_id, secret = extract_basic_authorization(request.headers)
        except UnicodeDecodeError:
            client_id, secret = None, None
        if client_id is None or secret is None or request.client_secret is not None:
            raise errors.InvalidClientError(
                description="Authentication failed: use HTTP Basic client auth.", request=request
            )
        known = standin.app_secret(client_id)
        if known is None or not hmac.compare_digest(secret.encode(), known.encode()):
            return False
        request.client = Client(client_id)
        return True

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        return True

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        pending = standin.take_code(code)
        if pending is None:
            _refuse_grant("Invalid authorization code.", request)
        if standin.code_expired(pending):
            _refuse_grant("The authorization code has expired.", request)
        if pending.client_id != client_id:
            _refuse_grant("The authorization code was issued to another app.", request)
        request.pending = pending
        request.user = pending.username
        request.scopes = list(pending.scopes)
        request.grant = Grant(pending.username, pending.scopes, 0.0, pending.access_lifetime, code)
        return True

    def get_code_challenge(self, code, request):
        return request.pending.challenge or None

    def get_code_challenge_method(self, code, request):
        return "S256"

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args, **kwargs):
        if request.pending.redirect_uri != redirect_uri:
            _refuse_grant("redirect_uri does not match the authorization.", request)
        return True

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        """Nothing left to do: `validate_code` spent the code."""

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        continuous = getattr(request, "continuous_refresh", "") or ""
        used = standin.use_refresh_token(refresh_token, continuous.lower() == "true")
        if used is None:
            _refuse_grant("The refresh token is invalid, expired or used.", request)
        request.grant, request.rotate = used
        request.user = request.grant.username
        return True

    def get_original_scopes(self, refresh_token, request, *args, **kwargs):
        return list(request.grant.scopes)

    def is_within_original_scope(self, request_scopes, refresh_token, request, *args, **kwargs):
        return set(_scopes(request_scopes)) <= set(request.grant.scopes)

    def rotate_refresh_token(self, request):
        return request.rotate

    def save_bearer_token(self, token, request, *args, **kwargs):
        standin.save_tokens(token, request.grant)

    # The API: the token in the Authorization header only, as Pinterest reads it.
    def validate_bearer_token(self, token, scopes, request):
        if not token or "Authorization" not in request.headers:
            return False
        request.account = standin.account_for(token)
        return request.account is not None


def _s256_only(request: OAuthRequest) -> dict:
    """Pinterest accepts S256 code challenges only; oauthlib accepts plain ones too."""
    if request.code_challenge is not None and request.code_challenge_method != "S256":
        raise errors.UnsupportedCodeChallengeMethodError(request=request)
    return {}


def _in_pinterests_words(token: dict, token_handler, request: OAuthRequest) -> dict:
    """Return oauthlib's token answer as Pinterest words it: a lower-case token type, comma-
    joined scopes, the grant it answers and the refresh token's lifetime. A refresh that does
    not rotate answers no refresh token (oauthlib would repeat the old one)."""
    token["token_type"] = "bearer"
    token["scope"] = ",".join(_scopes(request.scopes))
    token["response_type"] = request.grant_type
    if request.grant_type == "refresh_token" and not request.rotate:
        del token["refresh_token"]
    if "refresh_token" in token:
        lifetime = standin.refresh_lifetime()
        token["refresh_token_expires_in"] = lifetime
        token["refresh_token_expires_at"] = int(time.time() + lifetime)
    return token


def _access_token(request: OAuthRequest) -> str:
    return "pina_" + secrets.token_urlsafe(32)


def _refresh_token(request: OAuthRequest) -> str:
    return "pinr_" + secrets.token_urlsafe(32)


# oauthlib's OAuth 2.0 server logs the codes and tokens it handles at DEBUG ("Validating refresh
# token %s"): bare values no redaction can spot, and in sandbox mode the site's own tokens. Its
# records stop at its own logger, which has no handler.
logging.getLogger("oauthlib.oauth2").propagate = False

validator = Validator()
server = WebApplicationServer(
    validator,
    token_generator=_access_token,
    token_expires_in=lambda request: standin.access_lifetime(request.grant),
    refresh_token_generator=_refresh_token,
)
server.auth_grant.custom_validators.post_auth.append(_s256_only)
server.auth_grant.register_token_modifier(_in_pinterests_words)
server.refresh_grant.register_token_modifier(_in_pinterests_words)


def _issue_tokens(grant: Grant) -> dict:
    """Return a token answer for `grant`, made as the code exchange makes one."""
    request = OAuthRequest("")
    request.grant, request.grant_type, request.scopes = grant, "authorization_code", grant.scopes
    token = _in_pinterests_words(server.bearer.create_token(request, True), server.bearer, request)
    validator.save_token(token, request)
    return token


def _uri(request: HttpRequest) -> str:
    return request.build_absolute_uri()


def _error(status: int, message: str) -> JsonResponse:
    """Return Pinterest's error answer."""
    return JsonResponse({"code": ERROR_CODES.get(status, 0), "message": message}, status=status)


@standin.api("token")
def token(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _error(405, "Method not allowed.")
    if request.content_type != "application/x-www-form-urlencoded":
        return _error(400, "The body must be application/x-www-form-urlencoded.")
    try:
        headers, body, status = server.create_token_response(
            _uri(request), "POST", request.body.decode(errors="replace"), dict(request.headers)
        )
    except errors.OAuth2Error as refused:  # before any grant type looked at it
        headers, body, status = {}, refused.json, refused.status_code
    except ValueError:  # oauthlib cannot read the query string
        return _error(400, "The token endpoint takes no query string.")
    answer = json.loads(body)
    if status == 200:
        response = JsonResponse(answer)
        for name, value in headers.items():
            response[name] = value
        return response
    if request.POST.get("grant_type") == "refresh_token" and answer["error"] == "invalid_grant":
        return JsonResponse(answer, status=status)  # RFC 6749's shape, as Pinterest answers it
    description = answer.get("error_description")
    return _error(status, description or TOKEN_REFUSALS.get(answer["error"], answer["error"]))


@standin.api("user_account")
def user_account(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return _error(405, "Method not allowed.")
    try:
        valid, checked = server.verify_request(_uri(request), "GET", None, dict(request.headers))
    except ValueError:  # oauthlib cannot read the query string
        valid = False
    if not valid:
        return _error(401, "Authentication failed.")
    return JsonResponse(checked.account)


def _problem(request: HttpRequest, problem: str) -> HttpResponse:
    return render(request, "sandbox/pinterest_error.html", {"problem": problem}, status=400)


@sandbox_only
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    params = request.POST if request.method == "POST" else request.GET
    fields = {name: params[name] for name in AUTHORIZE_PARAMS if name in params}
    # The page's form carries the request on; oauthlib reads it as the query it came as.
    uri = _uri(request) if request.method == "GET" else f"{_uri(request)}?{urlencode(fields)}"
    try:
        scopes, credentials = server.validate_authorization_request(uri, "GET")
    except errors.OAuth2Error as refused:
        return _problem(request, AUTHORIZE_PROBLEMS.get(type(refused), refused.description))
    except ValueError:
        return _problem(request, gettext("The authorization request is not a valid query string."))
    context = {
        "fields": fields,
        "scopes": _scopes(scopes),
        "username": params.get("username", "pinner"),
        "lifetimes": LIFETIME_CHOICES,
    }
    if request.method == "GET":
        return render(request, "sandbox/pinterest_authorize.html", context)
    if request.POST.get("decision") != "approve":
        denied = errors.AccessDeniedError(request=credentials["request"])
        return HttpResponseRedirect(
            add_params_to_uri(credentials["redirect_uri"], denied.twotuples)
        )
    username = request.POST.get("username", "").strip()
    lifetime = request.POST.get("access_lifetime", "0")
    if not USERNAME.match(username) or lifetime not in {str(s) for s, _ in LIFETIME_CHOICES}:
        context["problem"] = gettext(
            "Choose a username of letters, digits, dots, dashes or underscores."
        )
        return render(request, "sandbox/pinterest_authorize.html", context, status=400)
    headers, _body, _status = server.create_authorization_response(
        uri, "GET", scopes=scopes, credentials={"user": username, "access_lifetime": int(lifetime)}
    )
    return HttpResponseRedirect(headers["Location"])


app_name = "sandbox-pinterest"
urlpatterns = [
    path("oauth/", authorize, name="authorize"),
    path("v5/oauth/token", token, name="token"),
    path("v5/user_account", user_account, name="user-account"),
]
