"""Connecting Discogs through the app's pages, against the Discogs stand-in over real HTTP.

The app talks to the stand-in over HTTP (live server); the "browser" is Django's test client,
which also visits the stand-in's authorize page, as the stand-in is served by the same app.
"""

import logging
import re

import pytest
import requests
from django.db import connection
from django.test import Client

from connectapp import conf
from connectapp.connections.models import ConnectionEvent, LinkedAccount
from connectapp.connections.services import FLOWS_SESSION_KEY
from connectapp.exceptions import ProviderUnavailable
from tests.conftest import PASSWORD
from tests.support.discogs_support import (
    CONNECT_URL,
    answer_at_discogs,
    approve,
    start_connect,
)
from tests.support.flows import database_state, query_of

Kind = ConnectionEvent.Kind
Status = LinkedAccount.Status


def page_of(client: Client) -> str:
    return client.get("/connections/").content.decode()


def discogs_card(page: str) -> str:
    start = page.index('id="provider-discogs"')
    return page[start : page.index("</section>", start)]


@pytest.mark.parametrize("method", ["HMAC-SHA1", "PLAINTEXT"])
def test_connecting_discogs_links_the_account(discogs, signed_in, user, settings, method):
    settings.CONNECTAPP_DISCOGS_SIGNATURE_METHOD = method
    callback = approve(signed_in, "crate-digger")

    response = signed_in.get(callback)

    assert response.status_code == 302
    assert response["Location"] == "/connections/"
    link = LinkedAccount.objects.get()
    grant = discogs.grants()[0]
    assert (link.user, link.provider, link.external_id, link.username, link.status) == (
        user,
        "discogs",
        str(grant.user_id),
        "crate-digger",
        Status.ACTIVE,
    )
    assert (link.access_token, link.token_secret) == (grant.token, grant.secret)
    assert link.last_verified_at is not None
    assert link.expires_at is None
    event = link.events.get()
    assert (event.kind, event.actor, event.detail) == (
        Kind.CONNECTED,
        "user:alice",
        "as crate-digger",
    )
    assert {call.signature_method for call in discogs.calls()} == {method}
    assert "Connected Discogs as crate-digger." in page_of(signed_in)


def test_tokens_are_encrypted_in_the_database(discogs, signed_in):
    signed_in.get(approve(signed_in))
    grant = discogs.grants()[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, token_secret FROM connections_linkedaccount")
        stored = cursor.fetchone()
    assert grant.token not in stored[0]
    assert grant.secret not in stored[1]


def test_the_request_token_secret_never_reaches_the_browser(discogs, signed_in):
    response = signed_in.post(CONNECT_URL)
    token = query_of(response["Location"])["oauth_token"]
    secret = discogs.request_token(token).secret

    assert secret not in response["Location"]
    assert all(secret not in morsel.value for morsel in response.cookies.values())
    session = signed_in.session
    assert secret not in repr(dict(session.items()))
    assert token not in repr(dict(session.items()))
    assert len(session[FLOWS_SESSION_KEY]) == 1


def test_denying_at_discogs_stores_nothing(discogs, signed_in):
    callback = answer_at_discogs(signed_in, start_connect(signed_in), "deny")
    assert set(query_of(callback)) == {"denied"}

    response = signed_in.get(callback, follow=True)

    assert response.status_code == 200
    assert (
        "You declined the connection at Discogs. Nothing was stored." in response.content.decode()
    )
    assert database_state() == ([], [])
    assert [call.endpoint for call in discogs.calls()] == ["request_token"]


def test_a_callback_with_an_unknown_request_token_changes_nothing(discogs, signed_in, user):
    signed_in.get(approve(signed_in))
    before = database_state()

    response = signed_in.get(
        "/connections/discogs/callback/", {"oauth_token": "F" * 30, "oauth_verifier": "V" * 30}
    )

    assert response.status_code == 400
    assert "This connection attempt is unknown" in response.content.decode()
    assert database_state() == before


def test_a_callback_with_a_forged_verifier_changes_nothing(discogs, signed_in):
    params = query_of(approve(signed_in))
    before = database_state()

    response = signed_in.get(
        "/connections/discogs/callback/", {**params, "oauth_verifier": "forged" + "x" * 24}
    )

    assert response.status_code == 400
    assert "Discogs did not accept this authorization" in response.content.decode()
    assert database_state() == before == ([], [])
    assert discogs.grants() == []


def test_a_callback_without_a_verifier_changes_nothing(discogs, signed_in):
    params = query_of(approve(signed_in))

    response = signed_in.get(
        "/connections/discogs/callback/", {"oauth_token": params["oauth_token"]}
    )

    assert response.status_code == 400
    assert "no verifier" in response.content.decode()
    assert database_state() == ([], [])


def test_a_replayed_callback_changes_nothing(discogs, signed_in):
    callback = approve(signed_in)
    assert signed_in.get(callback).status_code == 302
    before = database_state()

    replay = signed_in.get(callback)

    assert replay.status_code == 400
    assert "already used" in replay.content.decode()
    assert database_state() == before
    assert len(discogs.calls("access_token")) == 1


def test_an_expired_callback_changes_nothing(discogs, signed_in, settings):
    callback = approve(signed_in)
    settings.CONNECTAPP_FLOW_TTL_SECONDS = 0

    response = signed_in.get(callback)

    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert database_state() == ([], [])
    assert discogs.calls("access_token") == []


def test_a_callback_in_another_browser_session_changes_nothing(
    discogs, signed_in, user, bob_signed_in
):
    callback = approve(signed_in)
    alice_elsewhere = Client()
    alice_elsewhere.force_login(user)

    for other in (alice_elsewhere, bob_signed_in):
        response = other.get(callback)
        assert response.status_code == 400
        assert "another browser session" in response.content.decode()
    assert database_state() == ([], [])
    assert discogs.calls("access_token") == []

    assert signed_in.get(callback).status_code == 302
    assert LinkedAccount.objects.get().user == user


def test_discogs_failing_during_the_callback_changes_nothing(discogs, signed_in):
    callback = approve(signed_in)
    discogs.inject_fault("error", "access_token", status=503)

    response = signed_in.get(callback)

    assert response.status_code == 502
    assert "Discogs is unavailable right now" in response.content.decode()
    assert database_state() == ([], [])


def test_discogs_failing_at_the_start_shows_a_clear_page(discogs, signed_in):
    discogs.inject_fault("rate_limit", "request_token", retry_after=60)

    response = signed_in.post(CONNECT_URL)

    assert response.status_code == 503
    assert "Discogs is unavailable right now" in response.content.decode()
    assert FLOWS_SESSION_KEY not in signed_in.session


def test_an_account_linked_to_another_user_is_refused(
    discogs, signed_in, bob_signed_in, other_user
):
    assert bob_signed_in.get(approve(bob_signed_in, "crate-digger")).status_code == 302
    before = database_state()

    response = signed_in.get(approve(signed_in, "crate-digger"))

    assert response.status_code == 409
    assert "already connected to another user" in response.content.decode()
    assert database_state() == before
    assert LinkedAccount.objects.get().user == other_user


def test_reconnecting_the_same_account_updates_the_link(discogs, signed_in, user):
    signed_in.get(approve(signed_in, "crate-digger"))
    first = LinkedAccount.objects.get()
    LinkedAccount.objects.filter(pk=first.pk).update(status=Status.NEEDS_RECONNECT)

    response = signed_in.get(approve(signed_in, "crate-digger"))

    assert response.status_code == 302
    link = LinkedAccount.objects.get()
    newest = discogs.grants()[-1]
    assert link.pk == first.pk
    assert link.status == Status.ACTIVE
    assert (link.access_token, link.token_secret) == (newest.token, newest.secret)
    assert link.access_token != first.access_token
    assert [event.kind for event in link.events.order_by("pk")] == [
        Kind.CONNECTED,
        Kind.RECONNECTED,
    ]


def test_disconnecting_forgets_the_tokens_and_frees_the_account(
    discogs, signed_in, bob_signed_in, other_user
):
    signed_in.get(approve(signed_in, "crate-digger"))
    link = LinkedAccount.objects.get()

    response = signed_in.post(f"/connections/{link.pk}/disconnect/")

    assert response.status_code == 302
    link.refresh_from_db()
    assert link.status == Status.REVOKED
    assert (link.access_token, link.token_secret) == ("", "")
    assert link.events.order_by("pk").last().kind == Kind.DISCONNECTED
    page = page_of(signed_in)
    assert "Disconnected Discogs account crate-digger." in page
    assert "crate-digger" not in discogs_card(page)

    assert bob_signed_in.get(approve(bob_signed_in, "crate-digger")).status_code == 302
    assert LinkedAccount.objects.get(status=Status.ACTIVE).user == other_user


def test_no_secret_reaches_the_logs(discogs, signed_in, settings, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = {conf.value("DISCOGS_CONSUMER_SECRET")}

    denied_url = start_connect(signed_in)
    denied_token = query_of(denied_url)["oauth_token"]
    secrets |= {denied_token, discogs.request_token(denied_token).secret}
    signed_in.get(answer_at_discogs(signed_in, denied_url, "deny"))

    authorize_url = start_connect(signed_in)
    request_token = query_of(authorize_url)["oauth_token"]
    secrets |= {request_token, discogs.request_token(request_token).secret}
    callback = answer_at_discogs(signed_in, authorize_url, "approve")
    secrets.add(query_of(callback)["oauth_verifier"])
    assert signed_in.get(callback).status_code == 302
    assert signed_in.get(callback).status_code == 400
    link = LinkedAccount.objects.get()
    secrets |= {link.access_token, link.token_secret}

    from connectapp.connections import services

    assert services.verify(link.pk) == "verified"
    discogs.inject_fault("error", "identity", status=500)
    with pytest.raises(ProviderUnavailable):
        services.verify(link.pk)
    discogs.revoke(token=link.access_token)
    assert services.verify(link.pk) == "needs_reconnect"
    signed_in.post(f"/connections/{link.pk}/disconnect/")

    logged = "\n".join(
        f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records
    )
    assert len(caplog.records) > 10, "the flow should have logged something to look at"
    leaked = sorted(secret for secret in secrets if secret and secret in logged)
    assert leaked == []


def test_a_person_connects_discogs_in_a_browser(discogs, live_server, user):
    """The demo's path over real HTTP: sign in, Connect Discogs, approve, back connected."""
    browser = requests.Session()

    def csrf_of(response: requests.Response) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)

    login = browser.get(f"{live_server.url}/accounts/login/", timeout=10)
    page = browser.post(
        login.url,
        {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": csrf_of(login)},
        timeout=10,
    )
    assert "Connect Discogs" in page.text

    authorize = browser.post(
        f"{live_server.url}{CONNECT_URL}", {"csrfmiddlewaretoken": csrf_of(page)}, timeout=10
    )
    assert "Authorize access to your Discogs account" in authorize.text
    done = browser.post(
        authorize.url,
        {"csrfmiddlewaretoken": csrf_of(authorize), "username": "vinyl-fan", "action": "approve"},
        timeout=10,
    )

    assert done.url == f"{live_server.url}/connections/"
    assert "Connected Discogs as vinyl-fan." in done.text
    assert LinkedAccount.objects.get(user=user).username == "vinyl-fan"
