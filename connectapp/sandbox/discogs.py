"""A stand-in for Discogs' OAuth 1.0a endpoints, served under /sandbox/discogs/ in sandbox mode.

It behaves as Discogs documents: `oauth/request_token` (GET or POST, with `oauth_callback`),
the `oauth/authorize` page (approve as a username, or deny: back to the callback with
`denied=<token>`), `oauth/access_token` (POST, with `oauth_verifier`) and `oauth/identity`.
oauthlib's server endpoints check every signature (HMAC-SHA1 or PLAINTEXT), timestamp, nonce
and token; a request without a `User-Agent` is refused with 403, and identity is rate limited
at 60 requests a minute per consumer with Discogs' `X-Discogs-Ratelimit*` headers.

State lives in memory (`standin`, guarded by a lock), so tests in the same process can arrange
and inspect it: issue or revoke access tokens, and inject outages (`inject_fault`). People and
other processes do the same at `/sandbox/discogs/` (a page listing granted access, with revoke
buttons and an outage form).
"""

import hmac
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from oauthlib.common import add_params_to_uri, generate_token
from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    RequestTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
)
from oauthlib.oauth1.rfc5849 import SIGNATURE_HMAC_SHA1, SIGNATURE_PLAINTEXT
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

from .common import FAULT_KINDS, Fault, StandIn, sandbox_only

#: How long a request token may wait for the person to approve it.
REQUEST_TOKEN_TTL = 15 * 60
#: Nonces are remembered for twice oauthlib's timestamp window; older requests are refused anyway.
NONCE_TTL = 2 * 600
RATE_LIMIT = 60
RATE_WINDOW = 60.0
API_ENDPOINTS = ("request_token", "access_token", "identity")
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


@dataclass
class RequestToken:
    secret: str
    client_key: str
    callback: str
    created: float
    username: str = ""
    verifier: str = ""


@dataclass
class AccessGrant:
    grant_id: int
    token: str
    secret: str
    client_key: str
    username: str
    user_id: int
    created: float
    revoked: bool = False


@dataclass
class Call:
    """One API request as the stand-in saw it (never its secrets)."""

    endpoint: str
    method: str
    user_agent: str
    signature_method: str
    status: int = 0


@dataclass
class _State:
    apps: dict[str, str] = field(default_factory=dict)
    request_tokens: dict[str, RequestToken] = field(default_factory=dict)
    grants: dict[str, AccessGrant] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    nonces: dict[tuple[str, str, str, str], float] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    recent: dict[str, deque] = field(default_factory=dict)


class DiscogsStandIn(StandIn):
    api_endpoints = API_ENDPOINTS
    state_class = _State
    app_settings = ("DISCOGS_CONSUMER_KEY", "DISCOGS_CONSUMER_SECRET")
    garbage_page = "<html><body>Something went wrong</body></html>"
    cut_short = (
        "oauth_token=cut-short&oauth_token_secret=cut-short&oauth_callback_confirmed=true",
        "application/x-www-form-urlencoded",
    )

    def __init__(self) -> None:
        super().__init__()
        self._ids = count(1)

    # --- how Discogs answers ---------------------------------------------------------------

    def describe(self, request: HttpRequest, endpoint: str) -> Call:
        return Call(
            endpoint=endpoint,
            method=request.method,
            user_agent=request.headers.get("User-Agent", ""),
            signature_method=_signature_method(request),
        )

    def refuse(self, request: HttpRequest) -> HttpResponse | None:
        if not request.headers.get("User-Agent", "").strip():
            return _message("You must provide a User-Agent that identifies your application.", 403)
        return None

    def too_many_requests(self) -> HttpResponse:
        return _message("You are making requests too quickly.", 429)

    def server_error(self, status: int) -> HttpResponse:
        return HttpResponse("<html><body>Server error</body></html>", status=status)

    # --- tokens ---------------------------------------------------------------------------

    def save_request_token(self, token: str, secret: str, client_key: str, callback: str) -> None:
        with self._lock:
            self._state.request_tokens[token] = RequestToken(
                secret, client_key, callback, time.time()
            )

    def request_token(self, token: str) -> RequestToken | None:
        """A request token still waiting for the person, or None."""
        with self._lock:
            pending = self._state.request_tokens.get(token)
            if pending is None or pending.created < time.time() - REQUEST_TOKEN_TTL:
                return None
            return pending

    def approve(self, token: str, username: str) -> None:
        with self._lock:
            self._state.request_tokens[token].username = username

    def set_verifier(self, token: str, verifier: str) -> None:
        with self._lock:
            self._state.request_tokens[token].verifier = verifier

    def deny(self, token: str) -> str | None:
        """Drop a request token the person declined; answers its callback."""
        with self._lock:
            pending = self._state.request_tokens.pop(token, None)
            return pending.callback if pending else None

    def forget_request_token(self, token: str) -> None:
        with self._lock:
            self._state.request_tokens.pop(token, None)

    def issue_access_token(
        self, client_key: str, username: str, token: str = "", secret: str = ""
    ) -> AccessGrant:
        """Grant access as if `username` approved `client_key` (used by the flow and by tests)."""
        with self._lock:
            user_id = self._state.user_ids.setdefault(username, 1000 + len(self._state.user_ids))
            grant = AccessGrant(
                grant_id=next(self._ids),
                token=token or generate_token(),
                secret=secret or generate_token(),
                client_key=client_key,
                username=username,
                user_id=user_id,
                created=time.time(),
            )
            self._state.grants[grant.token] = grant
            return grant

    def grant(self, token: str) -> AccessGrant | None:
        with self._lock:
            return self._state.grants.get(token)

    def grants(self) -> list[AccessGrant]:
        with self._lock:
            return sorted(self._state.grants.values(), key=lambda grant: grant.grant_id)

    def revoke(self, *, token: str | None = None, grant_id: int | None = None) -> bool:
        """Revoke one access grant, as a person does in their Discogs settings."""
        with self._lock:
            for grant in self._state.grants.values():
                if grant.token == token or grant.grant_id == grant_id:
                    grant.revoked = True
                    return True
            return False

    def rename_user(self, old: str, new: str) -> None:
        """A person changes their Discogs username; their id and grants stay."""
        with self._lock:
            self._state.user_ids[new] = self._state.user_ids.pop(old)
            for grant in self._state.grants.values():
                if grant.username == old:
                    grant.username = new

    def use_nonce(self, client_key: str, timestamp: str, nonce: str, token: str) -> bool:
        """False when this nonce was seen before with the same timestamp and credentials."""
        key = (client_key, timestamp, nonce, token)
        now = time.time()
        with self._lock:
            nonces = self._state.nonces
            for old in [seen for seen, at in nonces.items() if at < now - NONCE_TTL]:
                del nonces[old]
            if key in nonces:
                return False
            nonces[key] = now
            return True

    # --- the rate limit ------------------------------------------------------------------

    def count_request(self, client_key: str) -> tuple[int, bool]:
        """Count an authenticated request; answers (used in this window, allowed)."""
        now = time.time()
        with self._lock:
            recent = self._state.recent.setdefault(client_key, deque())
            while recent and recent[0] <= now - RATE_WINDOW:
                recent.popleft()
            if len(recent) >= RATE_LIMIT:
                return len(recent), False
            recent.append(now)
            return len(recent), True


standin = DiscogsStandIn()


class Validator(RequestValidator):
    """oauthlib's checks against the stand-in's memory.

    The stand-in is served over plain HTTP in the demo and tests, and its demo consumer key is
    not 20-30 letters, so transport, character set and key length are relaxed; signatures,
    timestamps, nonces, tokens and verifiers are checked in full.
    """

    enforce_ssl = False
    allowed_signature_methods = (SIGNATURE_HMAC_SHA1, SIGNATURE_PLAINTEXT)
    safe_characters = set(oauth_utils.UNICODE_ASCII_CHARACTER_SET) | set("-_.")
    client_key_length = (8, 64)
    dummy_client = "dummy-consumer-key"
    dummy_request_token = "dummyrequesttoken000000000000"
    dummy_access_token = "dummyaccesstoken0000000000000"
    dummy_secret = "dummy-secret-that-never-verifies"

    def validate_client_key(self, client_key, request):
        return standin.app_secret(client_key) is not None

    def get_client_secret(self, client_key, request):
        return standin.app_secret(client_key) or self.dummy_secret

    def validate_timestamp_and_nonce(
        self, client_key, timestamp, nonce, request, request_token=None, access_token=None
    ):
        return standin.use_nonce(client_key, timestamp, nonce, request_token or access_token or "")

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        return redirect_uri.startswith(("http://", "https://"))

    def get_default_realms(self, client_key, request):
        return []

    def validate_requested_realms(self, client_key, realms, request):
        return True

    def save_request_token(self, token, request):
        standin.save_request_token(
            token["oauth_token"],
            token["oauth_token_secret"],
            request.client_key,
            request.redirect_uri,
        )

    # The authorize page.
    def verify_request_token(self, token, request):
        pending = standin.request_token(token)
        return pending is not None and not pending.verifier

    def get_realms(self, token, request):
        return []

    def verify_realms(self, token, realms, request):
        return True

    def save_verifier(self, token, verifier, request):
        standin.set_verifier(token, verifier["oauth_verifier"])

    def get_redirect_uri(self, token, request):
        return standin.request_token(token).callback

    # The access token exchange.
    def validate_request_token(self, client_key, token, request):
        return _issued_to(standin.request_token(token), client_key)

    def get_request_token_secret(self, client_key, token, request):
        return self._secret_of(standin.request_token(token))

    def validate_verifier(self, client_key, token, verifier, request):
        pending = standin.request_token(token)
        return bool(
            pending
            and pending.verifier
            and pending.username
            and hmac.compare_digest(pending.verifier, verifier)
        )

    def save_access_token(self, token, request):
        pending = standin.request_token(request.resource_owner_key)
        standin.issue_access_token(
            request.client_key, pending.username, token["oauth_token"], token["oauth_token_secret"]
        )

    def invalidate_request_token(self, client_key, request_token, request):
        standin.forget_request_token(request_token)

    # Signed API requests. A revoked grant still validates here, so its signature is checked
    # with its own secret; the identity view refuses it afterwards.
    def validate_access_token(self, client_key, token, request):
        return _issued_to(standin.grant(token), client_key)

    def get_access_token_secret(self, client_key, token, request):
        return self._secret_of(standin.grant(token))

    def _secret_of(self, token) -> str:
        """Return a request token's or grant's secret; the dummy one for an unknown token, so
        the signature check takes as long and fails."""
        return token.secret if token else self.dummy_secret

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True


validator = Validator()


def _issued_to(token: RequestToken | AccessGrant | None, client_key: str) -> bool:
    """Return whether a request token or grant exists and was issued to this client."""
    return token is not None and token.client_key == client_key


def _uri(request: HttpRequest) -> str:
    return request.build_absolute_uri()


def _headers(request: HttpRequest) -> dict[str, str]:
    return dict(request.headers)


def _message(text: str, status: int, **headers: str) -> JsonResponse:
    response = JsonResponse({"message": text}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _signature_method(request: HttpRequest) -> str:
    found = re.search(
        r'oauth_signature_method="?([A-Z0-9-]+)', request.headers.get("Authorization", "")
    )
    return found.group(1) if found else request.GET.get("oauth_signature_method", "")


def _token_exchange(create: Callable[..., tuple], request: HttpRequest) -> HttpResponse:
    """Return the answer of one of oauthlib's token endpoints (`create`) to the request."""
    headers, body, status = create(
        _uri(request), request.method, request.body.decode(), _headers(request)
    )
    response = HttpResponse(body or "", status=status)
    for name, value in headers.items():
        response[name] = value
    return response


@standin.api("request_token")
@require_http_methods(["GET", "POST"])
def request_token(request: HttpRequest) -> HttpResponse:
    return _token_exchange(RequestTokenEndpoint(validator).create_request_token_response, request)


@standin.api("access_token")
@require_POST
def access_token(request: HttpRequest) -> HttpResponse:
    return _token_exchange(AccessTokenEndpoint(validator).create_access_token_response, request)


@standin.api("identity")
@require_GET
def identity(request: HttpRequest) -> HttpResponse:
    endpoint = ResourceEndpoint(validator)
    valid, checked = endpoint.validate_protected_resource_request(
        _uri(request), request.method, request.body.decode(), _headers(request)
    )
    grant = standin.grant(checked.resource_owner_key) if valid else None
    if grant is None or grant.revoked:
        return _message("You must authenticate to access this resource.", 401)
    used, allowed = standin.count_request(checked.client_key)
    limits = {
        "X-Discogs-Ratelimit": str(RATE_LIMIT),
        "X-Discogs-Ratelimit-Used": str(used),
        "X-Discogs-Ratelimit-Remaining": str(max(0, RATE_LIMIT - used)),
    }
    if not allowed:
        return _message("You are making requests too quickly.", 429, **limits)
    base = _uri(request).split("/oauth/identity")[0]
    response = JsonResponse(
        {
            "id": grant.user_id,
            "username": grant.username,
            "resource_url": f"{base}/users/{grant.username}",
            "consumer_name": "connectapp",
        }
    )
    for name, value in limits.items():
        response[name] = value
    return response


def _problem(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "sandbox/discogs_problem.html", {"message": message}, status=status)


@sandbox_only
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    """Discogs' authorize page: approve as a username, or deny."""
    token = request.GET.get("oauth_token", "")
    pending = standin.request_token(token) if token else None
    if pending is None or pending.verifier:
        return _problem(
            request, gettext("This authorization request is unknown, expired or already used."), 400
        )
    if request.method == "GET":
        return render(
            request,
            "sandbox/discogs_authorize.html",
            {"token": token, "username": "crate-digger", "consumer": pending.client_key},
        )
    if request.POST.get("action") == "deny":
        callback = standin.deny(token)
        return redirect(add_params_to_uri(callback, [("denied", token)]))
    username = request.POST.get("username", "").strip()
    if not USERNAME.match(username):
        return render(
            request,
            "sandbox/discogs_authorize.html",
            {
                "token": token,
                "username": username,
                "consumer": pending.client_key,
                "error": gettext(
                    "A Discogs username is 1 to 40 letters, digits, dots, dashes or underscores."
                ),
            },
            status=400,
        )
    standin.approve(token, username)
    # The token travels in the query string; the form body (CSRF token, username) is not OAuth's.
    headers, _body, _status = AuthorizationEndpoint(validator).create_authorization_response(
        _uri(request), request.method, "", {}
    )
    return redirect(headers["Location"])


@sandbox_only
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Who granted access to which app, with revoke buttons, and the outage switch."""
    return render(
        request,
        "sandbox/discogs_home.html",
        {
            "grants": standin.grants(),
            "faults": standin.faults(),
            "kinds": FAULT_KINDS,
            "endpoints": API_ENDPOINTS,
        },
    )


@sandbox_only
@require_POST
def revoke(request: HttpRequest) -> HttpResponse:
    try:
        grant_id = int(request.POST.get("grant", ""))
    except ValueError:
        return _problem(request, gettext("Choose an access grant to revoke."), 400)
    if not standin.revoke(grant_id=grant_id):
        return _problem(request, gettext("There is no such access grant."), 404)
    return redirect("sandbox-discogs:home")


@sandbox_only
@require_POST
def faults(request: HttpRequest) -> HttpResponse:
    form = request.POST
    try:
        standin.inject_fault(
            form.get("kind", ""),
            form.get("endpoint", ""),
            times=_bounded(form.get("times", "1"), 1, 100),
            status=_bounded(form.get("status", "500"), 500, 599),
            retry_after=_bounded(form["retry_after"], 0, 86400)
            if form.get("retry_after")
            else None,
            delay=float(_bounded(form.get("delay", "0"), 0, 120)),
        )
    except ValueError as problem:
        return _problem(request, str(problem), 400)
    return redirect("sandbox-discogs:home")


def _bounded(value: str, low: int, high: int) -> int:
    number = int(value)
    if not low <= number <= high:
        raise ValueError(f"{number} is not between {low} and {high}")
    return number


app_name = "sandbox-discogs"
urlpatterns = [
    path("", home, name="home"),
    path("revoke/", revoke, name="revoke"),
    path("faults/", faults, name="faults"),
    path("oauth/request_token", request_token, name="request_token"),
    path("oauth/authorize", authorize, name="authorize"),
    path("oauth/access_token", access_token, name="access_token"),
    path("oauth/identity", identity, name="identity"),
]
