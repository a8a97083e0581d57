"""Nobody is let in: CSRF, other people's links, open redirects, flows bound to one browser
session and used once before they expire, cookie flags, and the limit on starting flows."""

import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from connectapp import conf
from connectapp.connections.models import LinkedAccount
from connectapp.connections.services import FLOWS_SESSION_KEY
from tests.conftest import PASSWORD
from tests.support import discogs_support, pinterest_support
from tests.support.flows import discogs_link, path_of, query_of, tables
from tests.support.pinterest_support import pinterest_link
from tests.test_settings import PRODUCTION, manage

pytestmark = pytest.mark.django_db

Status = LinkedAccount.Status
EVIL_NEXTS = [
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "https:/evil.example/",
    "http:///evil.example/",
    " https://evil.example/",
    "javascript:alert(document.cookie)",
    "https://testserver.evil.example/",
    "https://evil.example@testserver/",
]
FLOWS = {
    "discogs": (discogs_support.approve, "oauth_token", "access_token"),
    "pinterest": (pinterest_support.approve, "state", "token"),
}


def csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/connections/")
    return client


def csrf_token_of(client: Client) -> str:
    return client.cookies["csrftoken"].value


# --- CSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["discogs", "pinterest"])
def test_starting_a_flow_needs_the_csrf_token(discogs, pinterest, user, provider):
    client = csrf_client(user)

    refused = client.post(f"/connections/{provider}/connect/")
    forged = client.post(f"/connections/{provider}/connect/", {"csrfmiddlewaretoken": "x" * 64})

    assert (refused.status_code, forged.status_code) == (403, 403)
    assert FLOWS_SESSION_KEY not in client.session
    assert discogs.calls() == [] and pinterest.calls() == []
    accepted = client.post(
        f"/connections/{provider}/connect/", {"csrfmiddlewaretoken": csrf_token_of(client)}
    )
    assert accepted.status_code == 302


def test_disconnecting_needs_the_csrf_token_of_this_session(discogs, user, other_user):
    link = discogs_link(user)
    client = csrf_client(user)
    bobs_token = csrf_token_of(csrf_client(other_user))
    before = tables()

    for data in ({}, {"csrfmiddlewaretoken": "x" * 64}, {"csrfmiddlewaretoken": bobs_token}):
        assert client.post(f"/connections/{link.pk}/disconnect/", data).status_code == 403
    assert tables() == before

    done = client.post(
        f"/connections/{link.pk}/disconnect/", {"csrfmiddlewaretoken": csrf_token_of(client)}
    )
    assert done.status_code == 302
    assert LinkedAccount.objects.get(pk=link.pk).status == Status.REVOKED


# --- Other people's links ------------------------------------------------------------------


def test_a_user_can_neither_see_nor_disconnect_another_users_links(
    discogs, pinterest, signed_in, user, other_user
):
    mine = discogs_link(user, "alices-crates")
    theirs = [discogs_link(other_user, "bobs-crates"), pinterest_link(other_user, "bobs-pins")]
    before = tables()

    page = signed_in.get("/connections/").content.decode()
    guesses = range(min(link.pk for link in theirs) - 3, max(link.pk for link in theirs) + 4)
    answers = {
        (pk, method): getattr(signed_in, method)(f"/connections/{pk}/disconnect/").status_code
        for pk in guesses
        if pk != mine.pk
        for method in ("get", "post")
    }

    assert "alices-crates" in page
    assert "bobs-crates" not in page and "bobs-pins" not in page
    assert set(answers.values()) == {404}
    assert tables() == before


def test_a_user_who_is_not_staff_cannot_open_links_in_admin(discogs, signed_in, other_user):
    theirs = discogs_link(other_user)

    for url in (
        "/admin/connections/linkedaccount/",
        f"/admin/connections/linkedaccount/{theirs.pk}/change/",
    ):
        response = signed_in.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


# --- Redirects ----------------------------------------------------------------------------


@pytest.mark.parametrize("evil", EVIL_NEXTS)
def test_signing_in_never_redirects_off_site(client, user, evil):
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": PASSWORD, "next": evil}
    )

    assert response.status_code == 302
    assert response["Location"] == "/connections/"


def test_signing_in_follows_a_local_next(client, user):
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": PASSWORD, "next": "/admin/"}
    )

    assert response["Location"] == "/admin/"


@pytest.mark.parametrize("evil", EVIL_NEXTS[:3])
def test_signing_out_never_redirects_off_site(signed_in, evil):
    response = signed_in.post("/accounts/logout/", {"next": evil})

    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert not response["Location"].startswith(("http", "//", "/\\"))


def test_the_connection_endpoints_take_no_return_url(discogs, signed_in, user, settings):
    link = discogs_link(user)
    nexts = {"next": "https://evil.example/", "return_to": "https://evil.example/"}

    started = signed_in.post("/connections/discogs/connect/", nexts)
    declined = signed_in.get(
        "/connections/discogs/callback/",
        {"denied": query_of(started["Location"])["oauth_token"], **nexts},
    )
    disconnected = signed_in.post(f"/connections/{link.pk}/disconnect/", nexts)

    assert started["Location"].startswith(conf.value("DISCOGS_AUTHORIZE_URL") + "?")
    assert "evil" not in started["Location"]
    assert declined["Location"] == disconnected["Location"] == "/connections/"


# --- Flows: bound to a browser session, single-use, expiring ------------------------------


@pytest.mark.parametrize("provider", FLOWS)
def test_a_callback_works_once(discogs, pinterest, signed_in, provider):
    approve, _, token_endpoint = FLOWS[provider]
    callback = path_of(approve(signed_in))
    assert signed_in.get(callback).status_code == 302
    before = tables()
    standin = discogs if provider == "discogs" else pinterest

    replay = signed_in.get(callback)

    assert replay.status_code == 400
    assert "already used" in replay.content.decode()
    assert tables() == before
    assert len(standin.calls(token_endpoint)) == 1


@pytest.mark.parametrize("provider", FLOWS)
def test_a_callback_in_another_browser_session_is_refused(
    discogs, pinterest, signed_in, user, bob_signed_in, provider
):
    approve, _, token_endpoint = FLOWS[provider]
    callback = path_of(approve(signed_in))
    alice_elsewhere = Client()
    alice_elsewhere.force_login(user)
    standin = discogs if provider == "discogs" else pinterest

    for browser in (alice_elsewhere, bob_signed_in, Client()):
        response = browser.get(callback)
        if browser is not bob_signed_in and response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/")  # not signed in
            continue
        assert response.status_code == 400
        assert "another browser session" in response.content.decode()
    assert not LinkedAccount.objects.exists()
    assert standin.calls(token_endpoint) == []
    assert signed_in.get(callback).status_code == 302


def test_flows_live_ten_minutes_by_default_and_that_is_configurable():
    read = "from connectapp import conf; print(conf.value('FLOW_TTL_SECONDS').total_seconds())"

    default = manage("shell", "--verbosity=0", "-c", read, DEBUG="true")
    configured = manage(
        "shell", "--verbosity=0", "-c", read, DEBUG="true", CONNECTAPP_FLOW_TTL_SECONDS="120"
    )

    assert (default.stdout.strip(), configured.stdout.strip()) == ("600.0", "120.0")


def age_flows(client: Client, seconds: float) -> None:
    """Make this browser's pending flows older, as if they were started `seconds` earlier."""
    session = client.session
    flows = session[FLOWS_SESSION_KEY]
    for flow in flows.values():
        flow["started"] -= seconds
    session[FLOWS_SESSION_KEY] = flows
    session.save()


@pytest.mark.parametrize("provider", FLOWS)
@pytest.mark.parametrize(("age", "expected"), [(599, 302), (601, 400)])
def test_a_flow_older_than_its_lifetime_is_refused(
    discogs, pinterest, signed_in, provider, age, expected
):
    approve, _, token_endpoint = FLOWS[provider]
    callback = path_of(approve(signed_in))
    age_flows(signed_in, age)
    standin = discogs if provider == "discogs" else pinterest

    response = signed_in.get(callback)

    assert response.status_code == expected
    if expected == 400:
        assert "expired" in response.content.decode()
        assert not LinkedAccount.objects.exists()
        assert standin.calls(token_endpoint) == []
    else:
        assert LinkedAccount.objects.get().status == Status.ACTIVE


# --- Cookies --------------------------------------------------------------------------------


def test_the_session_cookie_is_httponly_and_same_site(client, user, settings):
    settings.SESSION_COOKIE_SECURE = True

    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["secure"] is True
    assert cookie["samesite"] == "Lax"


SIGN_IN_IN_PRODUCTION = """
from django.contrib.auth import get_user_model
from django.test import Client
get_user_model().objects.create_user("carol", password="a long production password")
response = Client().post(
    "/accounts/login/",
    {"username": "carol", "password": "a long production password"},
    secure=True,
)
print(response.status_code)
print(response.cookies.output())
"""


def test_production_cookies_are_secure_and_httponly(tmp_path):
    env = {
        **PRODUCTION,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
        "ALLOWED_HOSTS": "testserver",
    }
    assert manage("migrate", "--verbosity=0", **env).returncode == 0

    result = manage("shell", "--verbosity=0", "-c", SIGN_IN_IN_PRODUCTION, **env)

    assert result.returncode == 0, result.stderr
    status, *cookies = result.stdout.strip().splitlines()
    assert status == "302"
    session = next(line for line in cookies if "sessionid=" in line)
    csrf = next(line for line in cookies if "csrftoken=" in line)
    assert re.search(r"; HttpOnly\b", session) and re.search(r"; Secure\b", session)
    assert "SameSite=Lax" in session
    assert re.search(r"; Secure\b", csrf)


# --- Rate limit -------------------------------------------------------------------------------


def test_starting_flows_is_rate_limited_per_user(
    discogs, pinterest, signed_in, bob_signed_in, settings
):
    settings.CONNECTAPP_CONNECT_RATE_LIMIT = "3/60"
    started = [
        signed_in.post(f"/connections/{provider}/connect/").status_code
        for provider in ("discogs", "pinterest", "discogs")
    ]

    refused = signed_in.post("/connections/discogs/connect/")

    assert started == [302, 302, 302]
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "You started too many connections in a short time." in refused.content.decode()
    assert len(discogs.calls("request_token")) == 2
    assert len(signed_in.session[FLOWS_SESSION_KEY]) == 3
    assert bob_signed_in.post("/connections/pinterest/connect/").status_code == 302


def test_a_malformed_rate_limit_is_a_clear_configuration_error(signed_in, settings):
    settings.CONNECTAPP_CONNECT_RATE_LIMIT = "ten a minute"

    with pytest.raises(ImproperlyConfigured, match="STARTS/SECONDS"):
        signed_in.post("/connections/pinterest/connect/")
