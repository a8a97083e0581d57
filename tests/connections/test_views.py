"""The pages a signed-in person uses, and /healthz."""

import pytest
from django.urls import reverse

from connectapp.connections.models import ConnectionEvent, LinkedAccount
from tests.factories import DiscogsAccountFactory, LinkedAccountFactory

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/connections/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_sign_in_page_and_sign_in(client, user):
    assert client.get("/accounts/login/").status_code == 200
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/connections/"


def test_a_provider_without_credentials_shows_as_not_configured(signed_in, settings):
    settings.CONNECTAPP_DISCOGS_CONSUMER_KEY = ""
    settings.CONNECTAPP_PINTEREST_CLIENT_ID = "id"
    settings.CONNECTAPP_PINTEREST_CLIENT_SECRET = "secret"
    page = signed_in.get("/connections/").content.decode()
    discogs = page[page.index('id="provider-discogs"') : page.index('id="provider-pinterest"')]
    assert "Not configured on this site." in discogs
    assert "Connect Discogs" not in discogs
    assert "Connect Pinterest" in page


def test_the_page_shows_the_users_own_links_and_no_secret(signed_in, user, other_user, settings):
    settings.CONNECTAPP_PINTEREST_CLIENT_ID, settings.CONNECTAPP_PINTEREST_CLIENT_SECRET = (
        "id",
        "secret",
    )
    mine = LinkedAccountFactory(user=user, username="my-pins", access_token="tok-visible-never")
    LinkedAccountFactory(user=other_user, username="their-pins")
    page = signed_in.get("/connections/").content.decode()
    assert "my-pins" in page
    assert "their-pins" not in page
    assert "tok-visible-never" not in page
    assert reverse("connections:disconnect", args=[mine.pk]) in page


def test_a_link_needing_reconnect_says_so(signed_in, user, settings):
    settings.CONNECTAPP_PINTEREST_CLIENT_ID, settings.CONNECTAPP_PINTEREST_CLIENT_SECRET = (
        "id",
        "secret",
    )
    LinkedAccountFactory(user=user, status=LinkedAccount.Status.NEEDS_RECONNECT)
    page = signed_in.get("/connections/").content.decode()
    assert "Needs reconnect" in page
    assert "Reconnect to keep it working" in page


def test_connect_requires_post_and_csrf(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/connections/pinterest/connect/").status_code == 405
    assert client.post("/connections/pinterest/connect/").status_code == 403


def test_an_unknown_provider_is_not_found(signed_in):
    assert signed_in.post("/connections/myspace/connect/").status_code == 404
    assert signed_in.get("/connections/myspace/callback/").status_code == 404


def test_connecting_an_unconfigured_provider_is_refused_clearly(signed_in, settings):
    settings.CONNECTAPP_DISCOGS_CONSUMER_KEY = ""
    response = signed_in.post("/connections/discogs/connect/")
    assert response.status_code == 404
    assert "Discogs is not configured on this site." in response.content.decode()


def test_disconnect_asks_for_confirmation_then_forgets_the_tokens(signed_in, user):
    account = DiscogsAccountFactory(user=user, username="crate-digger")
    url = reverse("connections:disconnect", args=[account.pk])

    confirmation = signed_in.get(url)
    assert confirmation.status_code == 200
    assert "Disconnect Discogs?" in confirmation.content.decode()
    assert LinkedAccount.objects.get(pk=account.pk).status == LinkedAccount.Status.ACTIVE

    response = signed_in.post(url)
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.status == LinkedAccount.Status.REVOKED
    assert (account.access_token, account.token_secret) == ("", "")
    event = account.events.get()
    assert (event.kind, event.actor) == (ConnectionEvent.Kind.DISCONNECTED, "user:alice")


def test_nobody_can_disconnect_someone_elses_link(signed_in, other_user):
    theirs = DiscogsAccountFactory(user=other_user)
    url = reverse("connections:disconnect", args=[theirs.pk])
    assert signed_in.get(url).status_code == 404
    assert signed_in.post(url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == LinkedAccount.Status.ACTIVE
    assert not theirs.events.exists()


def test_healthz_reports_database_and_broker(client, redis_url):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_fails_when_the_broker_does_not_answer(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "unavailable"


def test_a_callback_problem_page_does_not_carry_the_code_into_its_language_switch(signed_in):
    response = signed_in.get(
        "/connections/pinterest/callback/", {"code": "a-code-only-the-user-saw", "state": "x"}
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "a-code-only-the-user-saw" not in page
    assert f'name="next" value="{reverse("connections:index")}"' in page
