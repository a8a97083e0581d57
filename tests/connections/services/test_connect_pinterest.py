"""Connecting Pinterest from the connections page, with the stand-in over real HTTP."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from connectapp.connections import services
from connectapp.connections.models import ConnectionEvent, LinkedAccount
from connectapp.exceptions import FlowError
from connectapp.sandbox.pinterest import standin
from tests.factories import LinkedAccountFactory
from tests.support.flows import database_state, path_of, query_of
from tests.support.pinterest_support import answer_at_pinterest, approve, start_connect

pytestmark = pytest.mark.django_db

Status = LinkedAccount.Status


@pytest.fixture(autouse=True)
def asked_scopes(settings) -> None:
    settings.CONNECTAPP_PINTEREST_SCOPES = ["user_accounts:read", "pins:read"]


def test_connecting_pinterest_stores_the_link_with_its_tokens_encrypted(pinterest, signed_in, user):
    response = signed_in.get(path_of(approve(signed_in, "pin-collector")), follow=True)

    assert "Connected Pinterest as pin-collector." in response.content.decode()
    account = LinkedAccount.objects.get()
    assert account.user == user
    assert account.provider == "pinterest"
    assert account.external_id == standin.user_id("pin-collector")
    assert account.username == "pin-collector"
    assert account.status == Status.ACTIVE
    assert account.scopes == ["user_accounts:read", "pins:read"]
    assert account.access_token.startswith("pina_")
    assert standin.refresh_token_is_live(account.refresh_token)
    now = timezone.now()
    assert now + timedelta(days=29) < account.expires_at <= now + timedelta(days=30)
    assert now + timedelta(days=364) < account.refresh_expires_at <= now + timedelta(days=365)
    assert account.last_refreshed_at is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM connections_linkedaccount WHERE id = %s",
            [account.pk],
        )
        encrypted_access, encrypted_refresh = cursor.fetchone()
    assert account.access_token not in encrypted_access
    assert account.refresh_token not in encrypted_refresh
    event = ConnectionEvent.objects.get()
    assert (event.kind, event.outcome, event.actor) == ("connected", "ok", "user:alice")
    page = signed_in.get("/connections/").content.decode()
    assert "pin-collector" in page
    assert account.access_token not in page


def test_declining_at_pinterest_stores_nothing(pinterest, signed_in):
    callback = answer_at_pinterest(start_connect(signed_in), "deny")

    response = signed_in.get(path_of(callback), follow=True)

    assert response.status_code == 200
    assert "You declined the connection at Pinterest. Nothing was stored." in (
        response.content.decode()
    )
    assert not LinkedAccount.objects.exists()
    assert standin.calls() == []


def _missing_state(client: Client, callback: str) -> str:
    params = query_of(callback)
    return f"/connections/pinterest/callback/?code={params['code']}"


def _wrong_state(client: Client, callback: str) -> str:
    params = query_of(callback)
    return f"/connections/pinterest/callback/?code={params['code']}&state=forged-state-value"


def _replayed(client: Client, callback: str) -> str:
    assert client.get(path_of(callback)).status_code == 302
    return path_of(callback)


def _bad_code(client: Client, callback: str) -> str:
    return f"/connections/pinterest/callback/?code=not-a-code&state={query_of(callback)['state']}"


def _provider_error(client: Client, callback: str) -> str:
    state = query_of(callback)["state"]
    return f"/connections/pinterest/callback/?error=server_error&state={state}"


@pytest.mark.parametrize(
    ("tamper", "status", "message"),
    [
        (_missing_state, 400, "missing what identifies this connection attempt"),
        (_wrong_state, 400, "This connection attempt is unknown"),
        (_replayed, 400, "This connection attempt is unknown"),
        (_bad_code, 400, "Invalid authorization code"),
        (_provider_error, 400, "did not authorize the connection (server_error)"),
    ],
)
def test_a_bad_callback_gets_a_clear_page_and_changes_nothing(
    pinterest, signed_in, tamper, status, message
):
    callback = approve(signed_in)
    url = tamper(signed_in, callback)
    before = database_state()

    response = signed_in.get(url)

    assert response.status_code == status
    page = response.content.decode()
    assert message in page
    assert "Nothing was changed." in page
    assert database_state() == before


def test_an_expired_connection_attempt_is_refused(pinterest, signed_in, settings):
    callback = approve(signed_in)
    settings.CONNECTAPP_FLOW_TTL_SECONDS = 0

    response = signed_in.get(path_of(callback))

    assert response.status_code == 400
    assert "This connection attempt has expired" in response.content.decode()
    assert not LinkedAccount.objects.exists()


def test_a_callback_in_another_browser_session_is_refused(pinterest, signed_in, user):
    callback = approve(signed_in)
    other_browser = Client()
    other_browser.force_login(user)

    response = other_browser.get(path_of(callback))

    assert response.status_code == 400
    assert not LinkedAccount.objects.exists()
    assert standin.calls("token") == []


def test_pinterests_error_at_the_code_exchange_is_a_clear_4xx(pinterest, signed_in):
    callback = approve(signed_in)
    standin.register_app("sandbox-pinterest-client", "a-secret-this-site-does-not-have")

    response = signed_in.get(path_of(callback))

    assert response.status_code == 400
    assert "Authentication failed. (code 2)" in response.content.decode()
    assert not LinkedAccount.objects.exists()


def test_an_outage_at_the_code_exchange_says_try_again_and_stores_nothing(pinterest, signed_in):
    callback = approve(signed_in)
    standin.inject_fault("error", "token", status=503)

    response = signed_in.get(path_of(callback))

    assert response.status_code == 502
    assert "Pinterest is unavailable right now" in response.content.decode()
    assert not LinkedAccount.objects.exists()


def test_a_pinterest_account_linked_to_another_user_is_refused(pinterest, signed_in, other_user):
    theirs = LinkedAccountFactory(
        user=other_user, external_id=standin.user_id("shared-pins"), username="shared-pins"
    )
    before = database_state()

    response = signed_in.get(path_of(approve(signed_in, "shared-pins")))

    assert response.status_code == 409
    assert "already connected to another user" in response.content.decode()
    assert database_state() == before
    theirs.refresh_from_db()
    assert theirs.user == other_user


def test_reconnecting_updates_the_link_and_clears_needs_reconnect(pinterest, signed_in, user):
    account = LinkedAccountFactory(
        user=user,
        external_id=standin.user_id("pin-collector"),
        username="old-name",
        status=Status.NEEDS_RECONNECT,
        access_token="pina_old",
        refresh_token="pinr_old",
        last_error="invalid_grant: used",
    )

    response = signed_in.get(path_of(approve(signed_in, "pin-collector")))

    assert response.status_code == 302
    account.refresh_from_db()
    assert LinkedAccount.objects.count() == 1
    assert account.status == Status.ACTIVE
    assert account.username == "pin-collector"
    assert account.access_token not in ("", "pina_old")
    assert standin.refresh_token_is_live(account.refresh_token)
    assert account.last_error == ""
    assert account.events.get().kind == "reconnected"


def test_a_double_submitted_callback_exchanges_the_code_once(pinterest, signed_in, user):
    """Two callbacks of one browser session racing: both loaded the session before either
    saved it. Only the first may take the flow; a second exchange of the same code would make
    Pinterest revoke the tokens the first one bought."""
    callback = approve(signed_in, "double-clicker")
    store = import_module(settings.SESSION_ENGINE).SessionStore
    first, second = (store(signed_in.session.session_key) for _ in range(2))
    first.load(), second.load()
    params = query_of(callback)
    url = callback.split("?")[0]

    account = services.complete_connect(first, user, "pinterest", params, url)
    with pytest.raises(FlowError, match="already used"):
        services.complete_connect(second, user, "pinterest", params, url)

    account.refresh_from_db()
    assert account.status == Status.ACTIVE
    assert standin.account_for(account.access_token)["username"] == "double-clicker"
    assert len(standin.calls("token")) == 1
