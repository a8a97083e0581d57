"""A provider that misbehaves on purpose never hangs, bloats, crashes or misleads connectapp.

Each test points a real provider class (Pinterest, Discogs, a generic OAuth 2.0 provider read
from a TOML file) at `HostileServer`, a real HTTP server on 127.0.0.1, and checks that the call
ends within the deadline, reads at most the size cap, follows no redirect and turns every
unusable answer into `UnusableAnswer`, an outage (retried later, never "needs reconnect").
"""

import json
import os
import select
import signal
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from connectapp.connections.models import ConnectionEvent, LinkedAccount
from connectapp.exceptions import ProviderError, ProviderUnavailable, UnusableAnswer
from connectapp.providers import config, http
from connectapp.providers.base import TokenSet
from connectapp.providers.discogs import Discogs
from connectapp.providers.pinterest import Pinterest
from tests.providers.hostile_server import HostileServer
from tests.support.providers_file import generic_provider, write_providers

DEADLINE = 1.0
#: The cap the tests use: small, so the oversize answers are big by comparison.
CAP = 64 * 1024
#: What a provider's token endpoint may answer; every one of these must be refused.
TOKEN = {"access_token": "a" * 40, "token_type": "bearer", "expires_in": 3600}
OLD = TokenSet(access_token="b" * 40, refresh_token="r" * 40)


@pytest.fixture
def elsewhere():
    """Another origin a redirect points to: it must never hear from us."""
    server = HostileServer().start()
    server.json(TOKEN | {"id": "mallory", "username": "mallory"})
    yield server
    server.stop()


@pytest.fixture
def hostile_settings(settings, hostile):
    settings.CONNECTAPP_HTTP_TIMEOUT = DEADLINE
    settings.CONNECTAPP_HTTP_MAX_RESPONSE_BYTES = CAP
    settings.CONNECTAPP_PINTEREST_CLIENT_ID = "hostile-client"
    settings.CONNECTAPP_PINTEREST_CLIENT_SECRET = "hostile-secret"
    settings.CONNECTAPP_PINTEREST_API_URL = hostile.url
    settings.CONNECTAPP_PINTEREST_AUTHORIZE_URL = f"{hostile.url}/authorize"
    settings.CONNECTAPP_DISCOGS_CONSUMER_KEY = "hostile-key"
    settings.CONNECTAPP_DISCOGS_CONSUMER_SECRET = "hostile-secret"
    settings.CONNECTAPP_DISCOGS_API_URL = hostile.url
    settings.CONNECTAPP_DISCOGS_AUTHORIZE_URL = f"{hostile.url}/authorize"
    return settings


@pytest.fixture
def generic(tmp_path, hostile, hostile_settings):
    table = generic_provider(
        "hostile",
        hostile.url,
        revocation_url=f"{hostile.url}/revoke",
        client_auth="client_secret_post",
    )
    (provider,) = config.load(write_providers(tmp_path, table))
    return provider


# The calls that reach each endpoint, per provider. Each takes the provider and answers
# whatever the call answers.
def pinterest_exchange(provider):
    return provider.finish({"code": "c", "state": "s"}, {"code_verifier": "v" * 64}, "http://cb/")


def pinterest_refresh(provider):
    return provider.refresh(OLD)


def pinterest_identity(provider):
    return provider.identity(OLD)


def generic_exchange(provider):
    return pinterest_exchange(provider)


def generic_revoke(provider):
    return provider.revoke(OLD)


def discogs_request_token(provider):
    return provider.begin("http://cb/")


def discogs_access_token(provider):
    return provider.finish(
        {"oauth_token": "t", "oauth_verifier": "v"}, {"token_secret": "s"}, "http://cb/"
    )


def discogs_identity(provider):
    return provider.identity(TokenSet(access_token="t", token_secret="s"))


CALLS = {
    "pinterest-exchange": (Pinterest, "/oauth/token", pinterest_exchange),
    "pinterest-refresh": (Pinterest, "/oauth/token", pinterest_refresh),
    "pinterest-identity": (Pinterest, "/user_account", pinterest_identity),
    "generic-exchange": ("generic", "/token", generic_exchange),
    "generic-refresh": ("generic", "/token", pinterest_refresh),
    "generic-identity": ("generic", "/userinfo", pinterest_identity),
    "generic-revoke": ("generic", "/revoke", generic_revoke),
    "discogs-request-token": (Discogs, "/oauth/request_token", discogs_request_token),
    "discogs-access-token": (Discogs, "/oauth/access_token", discogs_access_token),
    "discogs-identity": (Discogs, "/oauth/identity", discogs_identity),
}


@pytest.fixture(params=list(CALLS))
def call(request, hostile_settings):
    """One provider call: (the endpoint path it reaches, a function making it)."""
    kind, path, make = CALLS[request.param]
    provider = request.getfixturevalue("generic") if kind == "generic" else kind()
    return path, lambda: make(provider)


# --- 1. a deadline for the whole call --------------------------------------------------------


@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_a_provider_dripping_its_answer_is_cut_off_at_the_deadline(hostile, call, in_headers):
    _, make = call
    hostile.drip(0.1, in_headers=in_headers)
    started = time.monotonic()

    with pytest.raises(ProviderUnavailable):
        make()

    assert time.monotonic() - started < DEADLINE + 0.75


def test_the_deadline_holds_in_a_worker_thread_too(hostile, hostile_settings):
    hostile.drip(0.1)
    outcome = {}

    def refresh_in_a_thread():
        started = time.monotonic()
        try:
            Pinterest().refresh(OLD)
        except ProviderUnavailable as outage:
            outcome["error"] = outage
        outcome["took"] = time.monotonic() - started

    worker = threading.Thread(target=refresh_in_a_thread)
    worker.start()
    worker.join(timeout=10)

    assert isinstance(outcome["error"], ProviderUnavailable)
    assert outcome["took"] < DEADLINE + 0.75


def test_the_deadline_holds_in_a_forked_child_of_a_process_that_already_made_calls(
    hostile, hostile_settings
):
    hostile.drip(0.1)
    with pytest.raises(ProviderUnavailable):
        Pinterest().refresh(OLD)  # the parent's deadlines are watched by a thread of its own
    read, write = os.pipe()

    child = os.fork()
    if child == 0:  # only the forking thread lives on here: the child needs a watcher of its own
        started = time.monotonic()
        try:
            Pinterest().refresh(OLD)
        except ProviderUnavailable:
            os.write(write, f"{time.monotonic() - started:.3f}".encode())
        os._exit(0)
    answered, _, _ = select.select([read], [], [], DEADLINE + 5)
    os.kill(child, signal.SIGKILL)  # a child left without a deadline would drip for a minute
    os.waitpid(child, 0)

    assert answered, "the call in the child was not cut off"
    assert float(os.read(read, 32)) < DEADLINE + 0.75


def test_a_short_deadline_is_kept_while_longer_ones_wait(hostile, hostile_settings):
    """The watcher sleeps until the earliest deadline it knows: a call due sooner wakes it."""
    hostile.json({"id": "pinner"}, path="/user_account")
    hostile_settings.CONNECTAPP_HTTP_TIMEOUT = 30
    session = http.keep_alive(http.GuardedSession())
    session.get(f"{hostile.url}/user_account")  # leaves a deadline 30 s away
    hostile.drip(0.1)
    hostile_settings.CONNECTAPP_HTTP_TIMEOUT = DEADLINE
    started = time.monotonic()

    with pytest.raises(ProviderUnavailable):
        Pinterest().refresh(OLD)

    assert time.monotonic() - started < DEADLINE + 0.75


# --- 2. a cap on the size of every answer ----------------------------------------------------

FIFTY_MB = 50 * 1024 * 1024


@pytest.mark.parametrize("declare_length", [False, True], ids=["streamed", "content-length"])
def test_an_oversize_answer_is_cut_at_the_cap_without_reading_it(hostile, call, declare_length):
    _, make = call
    hostile.oversize(FIFTY_MB, declare_length=declare_length)
    tracemalloc.start()
    try:
        with pytest.raises(UnusableAnswer, match="over 65536 bytes"):
            make()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    time.sleep(0.2)  # the server notices the hang-up
    assert hostile.bytes_sent < 8 * 1024 * 1024
    assert peak < 4 * 1024 * 1024


def test_an_answer_just_under_the_cap_is_read(hostile, hostile_settings):
    hostile.json({**TOKEN, "padding": "p" * (CAP - 200)})

    tokens = Pinterest().refresh(OLD)

    assert tokens.access_token == TOKEN["access_token"]


# --- 3. malformed token answers --------------------------------------------------------------

NAN, INFINITY = float("nan"), float("inf")
MALFORMED = {
    "expires_in-1e308-string": {"expires_in": "1e308"},
    "expires_in-3.5-string": {"expires_in": "3.5"},
    "expires_in-nan": {"expires_in": NAN},
    "expires_in-infinity": {"expires_in": INFINITY},
    "expires_in-minus-infinity": {"expires_in": -INFINITY},
    "expires_in-1e400": b'{"access_token": "aaaaaaaa", "expires_in": 1e400}',
    "expires_in-negative": {"expires_in": -1},
    "expires_in-true": {"expires_in": True},
    "expires_in-false": {"expires_in": False},
    "expires_in-word": {"expires_in": "soon"},
    "expires_in-list": {"expires_in": [3600]},
    "expires_in-object": {"expires_in": {"seconds": 3600}},
    "expires_in-huge-integer": {"expires_in": 10**30},
    "expires_in-empty-string": {"expires_in": ""},
    "expires_at-list": {"expires_at": [1]},
    "expires_at-infinity": {"expires_at": INFINITY},
    "expires_at-string": {"expires_at": "tomorrow"},
    "expires_at-iso-date": {"expires_at": "2030-01-01T00:00:00Z"},
    "expires_at-true": {"expires_at": True},
    "expires_at-negative": {"expires_at": -5},
    "expires_at-year-5000": {"expires_at": 95617584000},
    "refresh_token-object": {"refresh_token": {"token": "r"}},
    "refresh_token-list": {"refresh_token": ["r"]},
    "refresh_token-number": {"refresh_token": 12345},
    "refresh_token-true": {"refresh_token": True},
    "refresh_token-crlf": {"refresh_token": "r\r\nX-Injected: 1"},
    "refresh_token_expires_in-nan": {"refresh_token_expires_in": NAN},
    "refresh_token_expires_in-true": {"refresh_token_expires_in": True},
    "refresh_token_expires_at-string": {"refresh_token_expires_at": "never"},
    "token_type-mac": {"token_type": "mac"},
    "token_type-empty": {"token_type": ""},
    "token_type-number": {"token_type": 1},
    "access_token-crlf": {"access_token": "a\r\nX-Injected: 1"},
    "access_token-nul": {"access_token": "a\x00b"},
    "access_token-space": {"access_token": "a b"},
    "access_token-unicode": {"access_token": "jeton-\u00e9\u2603"},
    "access_token-empty": {"access_token": ""},
    "access_token-number": {"access_token": 12345},
    "access_token-null": {"access_token": None},
    "access_token-object": {"access_token": {"value": "a"}},
    "access_token-missing": {"access_token": ...},
    "scope-number": {"scope": 5},
    "scope-object": {"scope": {"a": 1}},
    "body-list": b"[]",
    "body-string": b'"access_token"',
    "body-number": b"42",
    "body-null": b"null",
    "body-empty": b"",
    "body-html": b"<html>gateway</html>",
    "body-nested-100000-deep": b"[" * 100_000 + b"]" * 100_000,
    "body-object-nested-100000-deep": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
}


def token_body(shape) -> bytes:
    if isinstance(shape, bytes):
        return shape
    body = {**TOKEN, **shape}
    return json.dumps({name: value for name, value in body.items() if value is not ...}).encode()


@pytest.mark.parametrize("shape", list(MALFORMED.values()), ids=list(MALFORMED))
@pytest.mark.parametrize("operation", ["exchange", "refresh"])
def test_a_malformed_token_answer_is_an_unusable_answer(
    hostile, hostile_settings, shape, operation
):
    hostile.raw(token_body(shape))
    make = pinterest_exchange if operation == "exchange" else pinterest_refresh

    with pytest.raises(ProviderUnavailable) as raised:
        make(Pinterest())

    assert isinstance(raised.value, UnusableAnswer), raised.value
    assert "aaaa" not in str(raised.value) and "X-Injected" not in str(raised.value)


@pytest.mark.parametrize(
    "body",
    [
        b"oauth_token=t%0D%0AX-Injected%3A+1&oauth_token_secret=s&oauth_callback_confirmed=true",
        b"oauth_token=t&oauth_token_secret=s%00s&oauth_callback_confirmed=true",
        b"oauth_token=t+t&oauth_token_secret=s&oauth_callback_confirmed=true",
    ],
    ids=["token-crlf", "secret-nul", "token-space"],
)
@pytest.mark.parametrize("make", [discogs_request_token, discogs_access_token])
def test_a_discogs_token_that_cannot_go_in_a_header_is_an_unusable_answer(
    hostile, hostile_settings, body, make
):
    hostile.raw(body, content_type="application/x-www-form-urlencoded")

    with pytest.raises(UnusableAnswer):
        make(Discogs())


@pytest.mark.parametrize("status", [400, 401, 503])
def test_an_error_answer_nested_100000_deep_is_not_a_crash(hostile, hostile_settings, status):
    hostile.raw(b"[" * 100_000 + b"]" * 100_000, status=status)

    with pytest.raises(ProviderError):
        Pinterest().refresh(OLD)


def test_an_identity_nested_100000_deep_is_an_unusable_answer(hostile, hostile_settings):
    hostile.raw(b'{"id":' * 100_000 + b"1" + b"}" * 100_000)

    with pytest.raises(UnusableAnswer):
        Pinterest().identity(OLD)


def test_expires_in_zero_means_already_expired(hostile, hostile_settings):
    hostile.json({**TOKEN, "expires_in": 0})

    tokens = Pinterest().refresh(OLD)

    assert tokens.expires_at is not None
    assert tokens.expires_at <= datetime.now(UTC) + timedelta(seconds=1)


@pytest.mark.parametrize(
    "fields",
    [
        {"expires_in": "3600"},
        {"expires_in": 3600.5},
        {"token_type": "Bearer"},
        {"token_type": ...},
        {"refresh_token": None},
        {"scope": ["user_accounts:read", "pins:read"]},
    ],
    ids=[
        "expires_in-digits",
        "expires_in-float",
        "token_type-capital",
        "token_type-missing",
        "refresh_token-null",
        "scope-list",
    ],
)
def test_the_usual_variations_of_a_good_answer_are_accepted(hostile, hostile_settings, fields):
    hostile.raw(token_body(fields))

    tokens = Pinterest().refresh(OLD)

    assert tokens.access_token == TOKEN["access_token"]


def test_a_good_answer_is_read_in_full(hostile, hostile_settings):
    expires_at = int(time.time()) + 7200
    hostile.json(
        {
            **TOKEN,
            "expires_at": expires_at,
            "refresh_token": "n" * 40,
            "refresh_token_expires_in": 86400,
            "scope": "a,b",
        }
    )

    tokens = Pinterest().refresh(OLD)

    assert tokens.expires_at == datetime.fromtimestamp(expires_at, tz=UTC)
    assert tokens.refresh_token == "n" * 40
    assert tokens.refresh_expires_at > datetime.now(UTC) + timedelta(hours=23)
    assert tokens.scopes == ("a", "b")


# --- 5. no redirects -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_an_unusable_answer_and_the_other_origin_hears_nothing(
    hostile, elsewhere, call, status
):
    path, make = call
    hostile.redirect(status, f"{elsewhere.url}{path}")

    with pytest.raises(UnusableAnswer, match=f"redirect \\(HTTP {status}\\)"):
        make()

    assert len(hostile.requests) == 1
    assert elsewhere.requests == []


def test_a_session_handed_to_site_code_follows_no_redirect(hostile, elsewhere, hostile_settings):
    hostile.redirect(307, f"{elsewhere.url}/v5/boards")

    with Pinterest().session(OLD) as session, pytest.raises(UnusableAnswer):
        session.get(f"{hostile.url}/v5/boards")

    assert elsewhere.requests == []


# --- through the callback view: a clear page, nothing stored ---------------------------------

HOSTILE_ANSWERS = {
    "redirect": lambda server, other: server.redirect(307, f"{other.url}/oauth/token"),
    "oversize": lambda server, other: server.oversize(FIFTY_MB),
    "expires_in-nan": lambda server, other: server.raw(token_body(MALFORMED["expires_in-nan"])),
    "token_type-mac": lambda server, other: server.raw(token_body(MALFORMED["token_type-mac"])),
    "access_token-crlf": lambda server, other: server.raw(
        token_body(MALFORMED["access_token-crlf"])
    ),
    "nested-100000-deep": lambda server, other: server.raw(MALFORMED["body-nested-100000-deep"]),
    "drip": lambda server, other: server.drip(0.1),
}


@pytest.mark.django_db
@pytest.mark.parametrize("answer", list(HOSTILE_ANSWERS))
def test_a_hostile_token_answer_at_the_callback_shows_a_clear_page_and_stores_nothing(
    client: Client, user, hostile, elsewhere, hostile_settings, answer
):
    hostile_settings.CONNECTAPP_CONNECT_RATE_LIMIT = "0/60"
    client.force_login(user)
    started = client.post("/connections/pinterest/connect/")
    assert started.status_code == 302
    state = started["Location"].split("state=")[1].split("&")[0]
    HOSTILE_ANSWERS[answer](hostile, elsewhere)
    hostile.json({"id": "p1", "username": "pinner"}, path="/user_account")
    began = time.monotonic()

    response = client.get(f"/connections/pinterest/callback/?code=c&state={state}")

    assert time.monotonic() - began < DEADLINE + 1.5
    assert hostile.bytes_sent < 8 * 1024 * 1024
    assert response.status_code == 502
    assert "Pinterest is unavailable right now" in response.content.decode()
    assert LinkedAccount.objects.count() == 0
    assert ConnectionEvent.objects.count() == 0
    assert elsewhere.requests == []
