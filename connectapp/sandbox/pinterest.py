"""A stand-in for Pinterest's OAuth 2.0, served under /sandbox/pinterest/ in sandbox mode.

It behaves as Pinterest documents, strictly: the `oauth/` page (approve as a username, or
deny: back to the redirect URI with `error=access_denied`), `v5/oauth/token` (POST, form body,
HTTP Basic client authentication and nothing else) and `v5/user_account` (Bearer). Codes are
single-use, expire, and are bound to the client, the redirect URI and the PKCE challenge when
one was given; a replayed code also kills the tokens it bought. Refresh tokens rotate when the
client asks for continuous refresh (the old one dies at that moment). Errors are Pinterest's
`{"code": n, "message": "…"}`, except an unusable refresh token: RFC 6749 `invalid_grant`.

State lives in memory (`standin`, guarded by a lock), so tests in the same process can set
token lifetimes, issue tokens, read the call log (how many token requests arrived) and inject
outages (`inject_fault`): errors, 429 with `Retry-After`, latency, garbage and truncated bodies.
"""

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .common import Fault, StandIn, sandbox_only, truncated

DAY = 24 * 60 * 60
API_ENDPOINTS = ("token", "user_account")
SCOPE = re.compile(r"^[a-z_]+:[a-z_]+$")
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,30}$")
#: What the authorize page offers, so a person trying the demo can watch the schedule refresh.
LIFETIME_CHOICES = (
    (0, "Pinterest's usual: 30 days"),
    (DAY, "1 day: the schedule refreshes it within minutes"),
    (120, "2 minutes: already expired when next used"),
)


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
    clients: dict[str, str] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    spent_codes: set[str] = field(default_factory=set)
    access_tokens: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)


class TokenError(Exception):
    """An answer of the token endpoint other than a token."""

    def __init__(self, status: int, body: dict):
        super().__init__(body)
        self.status = status
        self.body = body


def pinterest_error(status: int, code: int, message: str) -> TokenError:
    return TokenError(status, {"code": code, "message": message})


class PinterestStandIn(StandIn):
    api_endpoints = API_ENDPOINTS
    state_class = _State

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

    # --- apps ---------------------------------------------------------------------------

    def register_client(self, client_id: str, secret: str) -> None:
        """Give an app a secret of the stand-in's own (else the site's settings count)."""
        with self._lock:
            self._state.clients[client_id] = secret

    def client_secret(self, client_id: str) -> str | None:
        with self._lock:
            if client_id in self._state.clients:
                return self._state.clients[client_id]
        if client_id and client_id == settings.PINTEREST_CLIENT_ID:
            return settings.PINTEREST_CLIENT_SECRET
        return None

    # --- the flow -------------------------------------------------------------------------

    def user_id(self, username: str) -> str:
        with self._lock:
            return self._state.user_ids.setdefault(
                username, str(549755813888 + len(self._state.user_ids))
            )

    def issue_code(
        self,
        client_id: str,
        redirect_uri: str,
        username: str,
        scopes: tuple[str, ...],
        challenge: str = "",
        access_lifetime: int = 0,
    ) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._state.codes[code] = Code(
                client_id, redirect_uri, username, scopes, challenge, time.time(), access_lifetime
            )
        return code

    def redeem_code(self, client_id: str, code: str, redirect_uri: str, verifier: str) -> dict:
        """Tokens for a code, once. A replayed code revokes what it bought (RFC 6749 §4.1.2)."""
        with self._lock:
            pending = self._state.codes.pop(code, None)
            if pending is None:
                if code in self._state.spent_codes:
                    self._revoke_where(lambda grant: grant.code == code)
                raise pinterest_error(400, 1, "Invalid authorization code.")
            self._state.spent_codes.add(code)
            if pending.created < time.time() - self._state.code_lifetime:
                raise pinterest_error(400, 1, "The authorization code has expired.")
            if pending.client_id != client_id:
                raise pinterest_error(400, 1, "The authorization code was issued to another app.")
            if pending.redirect_uri != redirect_uri:
                raise pinterest_error(400, 1, "redirect_uri does not match the authorization.")
            if pending.challenge and not _pkce_matches(pending.challenge, verifier):
                raise pinterest_error(400, 1, "code_verifier does not match the code_challenge.")
            grant = Grant(pending.username, pending.scopes, 0.0, pending.access_lifetime, code)
            return self._issue(grant, "authorization_code", with_refresh_token=True)

    def issue_tokens(
        self, username: str, scopes: tuple[str, ...] = ("user_accounts:read",)
    ) -> dict:
        """A token answer as if `username` had approved this app (for tests)."""
        with self._lock:
            return self._issue(Grant(username, scopes, 0.0, 0), "authorization_code", True)

    def refresh(self, refresh_token: str, continuous: bool) -> dict:
        with self._lock:
            grant = self._state.refresh_tokens.get(refresh_token)
            if grant is None or grant.expires <= time.time():
                raise TokenError(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "The refresh token is invalid, expired or used.",
                    },
                )
            rotate = continuous and self._state.continuous_refresh
            if rotate:
                del self._state.refresh_tokens[refresh_token]
            return self._issue(grant, "refresh_token", with_refresh_token=rotate)

    def _issue(self, grant: Grant, response_type: str, with_refresh_token: bool) -> dict:
        """Within the lock."""
        now = time.time()
        lifetime = grant.access_lifetime or self._state.access_token_lifetime
        access_token = "pina_" + secrets.token_urlsafe(32)
        self._state.access_tokens[access_token] = Grant(
            grant.username, grant.scopes, now + lifetime, grant.access_lifetime, grant.code
        )
        answer = {
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": lifetime,
            "scope": ",".join(grant.scopes),
            "response_type": response_type,
        }
        if with_refresh_token:
            refresh_token = "pinr_" + secrets.token_urlsafe(32)
            expires = now + self._state.refresh_token_lifetime
            self._state.refresh_tokens[refresh_token] = Grant(
                grant.username, grant.scopes, expires, grant.access_lifetime, grant.code
            )
            answer.update(
                refresh_token=refresh_token,
                refresh_token_expires_in=self._state.refresh_token_lifetime,
                refresh_token_expires_at=int(expires),
            )
        return answer

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


def _pkce_matches(challenge: str, verifier: str) -> bool:
    digest = hashlib.sha256(verifier.encode()).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return bool(verifier) and hmac.compare_digest(expected, challenge)


def _with_params(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _client_credentials(request: HttpRequest) -> tuple[str, str] | None:
    """HTTP Basic only: Pinterest refuses client secrets in the body."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (client_id, secret) if colon else None


def _client_is_known(client_id: str, secret: str = "", *, check_secret: bool = True) -> bool:
    known = standin.client_secret(client_id)
    if known is None:
        return False
    return not check_secret or hmac.compare_digest(secret.encode(), known.encode())


def _api(endpoint: str):
    """What every API endpoint does first: injected faults and the call log."""

    def decorate(view):
        def wrapper(request: HttpRequest) -> HttpResponse:
            call = Call(
                endpoint=endpoint,
                method=request.method,
                user_agent=request.headers.get("User-Agent", ""),
                auth_scheme=request.headers.get("Authorization", "").partition(" ")[0],
                grant_type=request.POST.get("grant_type", "") if request.method == "POST" else "",
            )
            with standin.in_flight.request():
                response = _fault_answer(standin.take_fault(endpoint)) or view(request)
                call.status = response.status_code
                standin.record(call)
            return response

        return sandbox_only(csrf_exempt(wrapper))

    return decorate


def _fault_answer(fault: Fault | None) -> HttpResponse | None:
    if fault is None:
        return None
    if fault.kind == "latency":
        time.sleep(fault.delay)
        return None
    if fault.kind == "rate_limit":
        response = JsonResponse({"code": 8, "message": "Rate limit exceeded."}, status=429)
        if fault.retry_after is not None:
            response["Retry-After"] = str(fault.retry_after)
        return response
    if fault.kind == "garbage":
        return HttpResponse("<html><body>Pinterest is having a moment</body></html>")
    if fault.kind == "truncated":
        return truncated('{"access_token": "cut-short", "id": "cut-short"}', "application/json")
    return JsonResponse({"code": 0, "message": "Something went wrong."}, status=fault.status)


@_api("token")
def token(request: HttpRequest) -> HttpResponse:
    try:
        return JsonResponse(_token_answer(request))
    except TokenError as error:
        return JsonResponse(error.body, status=error.status)


def _token_answer(request: HttpRequest) -> dict:
    if request.method != "POST":
        raise pinterest_error(405, 405, "Method not allowed.")
    if request.content_type != "application/x-www-form-urlencoded":
        raise pinterest_error(400, 1, "The body must be application/x-www-form-urlencoded.")
    credentials = _client_credentials(request)
    if credentials is None or "client_secret" in request.POST:
        raise pinterest_error(401, 2, "Authentication failed: use HTTP Basic client auth.")
    if not _client_is_known(*credentials):
        raise pinterest_error(401, 2, "Authentication failed.")
    grant_type = request.POST.get("grant_type", "")
    if grant_type == "authorization_code":
        return standin.redeem_code(
            credentials[0],
            request.POST.get("code", ""),
            request.POST.get("redirect_uri", ""),
            request.POST.get("code_verifier", ""),
        )
    if grant_type == "refresh_token":
        return standin.refresh(
            request.POST.get("refresh_token", ""),
            continuous=request.POST.get("continuous_refresh", "").lower() == "true",
        )
    raise pinterest_error(400, 1, "Unsupported grant_type.")


@_api("user_account")
def user_account(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return JsonResponse({"code": 405, "message": "Method not allowed."}, status=405)
    scheme, _, access_token = request.headers.get("Authorization", "").partition(" ")
    account = standin.account_for(access_token.strip()) if scheme.lower() == "bearer" else None
    if account is None:
        return JsonResponse({"code": 2, "message": "Authentication failed."}, status=401)
    return JsonResponse(account)


def _authorization_request(params) -> tuple[dict[str, str], str]:
    """The authorize parameters and what is wrong with them ("" when nothing)."""
    fields = {
        name: params.get(name, "")
        for name in (
            "client_id",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
        )
    }
    if not _client_is_known(fields["client_id"], check_secret=False):
        return fields, "This app (client_id) is not registered."
    redirect_uri = urlsplit(fields["redirect_uri"])
    if redirect_uri.scheme not in ("http", "https") or not redirect_uri.netloc:
        return fields, "redirect_uri must be an absolute http(s) URL."
    if fields["response_type"] != "code":
        return fields, "response_type must be code."
    scopes = fields["scope"].split(",")
    if not all(SCOPE.match(scope) for scope in scopes):
        return fields, "scope must be a comma-separated list of scopes such as boards:read."
    if fields["code_challenge"] and fields["code_challenge_method"] != "S256":
        return fields, "Only the S256 code_challenge_method is supported."
    return fields, ""


@sandbox_only
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    params = request.POST if request.method == "POST" else request.GET
    fields, problem = _authorization_request(params)
    if problem:
        return render(request, "sandbox/pinterest_error.html", {"problem": problem}, status=400)
    context = {
        "fields": fields,
        "scopes": fields["scope"].split(","),
        "username": params.get("username", "pinner"),
        "lifetimes": LIFETIME_CHOICES,
    }
    if request.method == "GET":
        return render(request, "sandbox/pinterest_authorize.html", context)
    state = {"state": fields["state"]} if fields["state"] else {}
    if request.POST.get("decision") != "approve":
        return HttpResponseRedirect(
            _with_params(fields["redirect_uri"], {"error": "access_denied", **state})
        )
    username = request.POST.get("username", "").strip()
    lifetime = request.POST.get("access_lifetime", "0")
    if not USERNAME.match(username) or lifetime not in {str(s) for s, _ in LIFETIME_CHOICES}:
        context["problem"] = "Choose a username of letters, digits, dots, dashes or underscores."
        return render(request, "sandbox/pinterest_authorize.html", context, status=400)
    code = standin.issue_code(
        fields["client_id"],
        fields["redirect_uri"],
        username,
        tuple(context["scopes"]),
        fields["code_challenge"],
        int(lifetime),
    )
    return HttpResponseRedirect(_with_params(fields["redirect_uri"], {"code": code, **state}))


app_name = "sandbox-pinterest"
urlpatterns = [
    path("oauth/", authorize, name="authorize"),
    path("v5/oauth/token", token, name="token"),
    path("v5/user_account", user_account, name="user-account"),
]
