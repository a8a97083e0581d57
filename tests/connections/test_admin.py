"""Admins manage links in Django admin, used here as an admin would: through the admin URLs."""

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connectapp.connections import crypto
from connectapp.connections.models import ConnectionEvent, LinkedAccount
from tests.factories import (
    ConnectionEventFactory,
    DiscogsAccountFactory,
    LinkedAccountFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_password_hashing")]

CHANGELIST = reverse("admin:connections_linkedaccount_changelist")
EVENTS = reverse("admin:connections_connectionevent_changelist")
Status = LinkedAccount.Status


def detail(account: LinkedAccount) -> str:
    return reverse("admin:connections_linkedaccount_change", args=[account.pk])


def listed(response) -> set[int]:
    return {account.pk for account in response.context["cl"].result_list}


def act(client, action: str, *accounts: LinkedAccount, **extra):
    """Choose links on the changelist, pick an action and press Go (and confirm, when asked)."""
    return client.post(
        CHANGELIST,
        {"action": action, "index": 0, "_selected_action": [a.pk for a in accounts], **extra},
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def staff(username: str, *codenames: str):
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def closed_port_url(closed_port) -> str:
    """A local URL nothing listens on: every request to it fails to connect."""
    return f"http://127.0.0.1:{closed_port}"


# --- Finding links ------------------------------------------------------------------------


def test_the_list_shows_each_links_owner_identity_and_state(admin_client):
    owner = UserFactory(username="carol", email="carol@example.org")
    LinkedAccountFactory(
        user=owner,
        username="carol-pins",
        external_id="pin-4242",
        status=Status.NEEDS_RECONNECT,
        last_error="invalid_grant: refresh token revoked",
    )
    page = admin_client.get(CHANGELIST).content.decode()
    for shown in ("carol", "carol-pins", "pin-4242", "Pinterest", "Needs reconnect"):
        assert shown in page
    assert "invalid_grant: refresh token revoked" in page
    for column in ("access token expires", "last refreshed at", "last verified at", "last error"):
        assert f">{column}<" in page.lower()


def test_links_can_be_filtered_by_provider_and_status(admin_client):
    pins = LinkedAccountFactory()
    broken_pins = LinkedAccountFactory(status=Status.NEEDS_RECONNECT)
    records = DiscogsAccountFactory()

    assert listed(admin_client.get(CHANGELIST, {"provider": "discogs"})) == {records.pk}
    assert listed(admin_client.get(CHANGELIST, {"provider": "pinterest"})) == {
        pins.pk,
        broken_pins.pk,
    }
    assert listed(admin_client.get(CHANGELIST, {"status__exact": "needs_reconnect"})) == {
        broken_pins.pk
    }


def test_links_can_be_filtered_by_how_soon_their_token_expires(admin_client, settings):
    settings.CONNECTAPP_REFRESH_WINDOW_SECONDS = 3 * 24 * 60 * 60
    now = timezone.now()
    expired = LinkedAccountFactory(expires_at=now - timedelta(hours=1))
    within_hours = LinkedAccountFactory(expires_at=now + timedelta(hours=2))
    within_days = LinkedAccountFactory(expires_at=now + timedelta(days=2))
    LinkedAccountFactory(expires_at=now + timedelta(days=20))
    LinkedAccountFactory(status=Status.REVOKED, expires_at=now + timedelta(hours=2))
    DiscogsAccountFactory()

    assert listed(admin_client.get(CHANGELIST, {"expiring": "expired"})) == {expired.pk}
    assert listed(admin_client.get(CHANGELIST, {"expiring": "24h"})) == {within_hours.pk}
    assert listed(admin_client.get(CHANGELIST, {"expiring": "soon"})) == {
        within_hours.pk,
        within_days.pk,
    }


@pytest.mark.parametrize(
    "query", ["dora", "dora@example.net", "dora-on-discogs", "discogs-id-77"], ids=str
)
def test_links_can_be_found_by_local_user_or_external_identity(admin_client, query):
    found = DiscogsAccountFactory(
        user=UserFactory(username="dora", email="dora@example.net"),
        username="dora-on-discogs",
        external_id="discogs-id-77",
    )
    LinkedAccountFactory(user=UserFactory(username="eve"), username="eve-pins")

    assert listed(admin_client.get(CHANGELIST, {"q": query})) == {found.pk}


def test_links_can_be_narrowed_by_when_they_were_connected(admin_client):
    old = LinkedAccountFactory()
    LinkedAccount.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=800))
    LinkedAccountFactory()
    old.refresh_from_db()

    response = admin_client.get(CHANGELIST, {"created_at__year": old.created_at.year})

    assert listed(response) == {old.pk}


def test_the_list_of_200_links_takes_a_bounded_number_of_queries(admin_client):
    def queries_for_the_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(CHANGELIST)
        assert response.status_code == 200
        return len(captured)

    LinkedAccountFactory.create_batch(3)
    with_a_few = queries_for_the_list()
    for account in LinkedAccountFactory.create_batch(100) + DiscogsAccountFactory.create_batch(97):
        ConnectionEventFactory(account=account, outcome=ConnectionEvent.Outcome.FAILED)

    with_200 = queries_for_the_list()

    assert LinkedAccount.objects.count() == 200
    assert with_200 == with_a_few
    assert with_200 <= 15


def test_the_list_is_paginated(admin_client):
    LinkedAccountFactory.create_batch(101)
    response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 100
    assert len(admin_client.get(CHANGELIST, {"p": 2}).context["cl"].result_list) == 1


# --- The overview above the list ----------------------------------------------------------


def test_the_overview_counts_links_by_provider_and_status_and_recent_failures(admin_client):
    LinkedAccountFactory.create_batch(2)
    broken = LinkedAccountFactory(status=Status.NEEDS_RECONNECT)
    DiscogsAccountFactory(status=Status.NEEDS_RECONNECT)
    DiscogsAccountFactory(status=Status.REVOKED)
    ConnectionEventFactory(account=broken, outcome=ConnectionEvent.Outcome.FAILED)
    ConnectionEventFactory(account=broken, outcome=ConnectionEvent.Outcome.TRANSIENT)
    old_failure = ConnectionEventFactory(account=broken, outcome=ConnectionEvent.Outcome.FAILED)
    ConnectionEvent.objects.filter(pk=old_failure.pk).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    ConnectionEventFactory(account=broken, outcome=ConnectionEvent.Outcome.OK)

    response = admin_client.get(CHANGELIST)

    overview = response.context["overview"]
    counts = {row.provider: dict(row.by_status) for row in overview.providers}
    assert counts["pinterest"] == {"active": 2, "needs_reconnect": 1, "revoked": 0, "error": 0}
    assert counts["discogs"] == {"active": 0, "needs_reconnect": 1, "revoked": 1, "error": 0}
    assert (overview.needs_reconnect, overview.failed_events, overview.failing_links) == (2, 2, 1)
    page = response.content.decode()
    assert 'id="overview-needs-reconnect">2<' in page
    assert 'id="overview-failures">2<' in page


def test_the_overviews_failure_link_lists_the_recent_failed_events(admin_client):
    account = LinkedAccountFactory()
    failed = ConnectionEventFactory(account=account, outcome=ConnectionEvent.Outcome.FAILED)
    outage = ConnectionEventFactory(account=account, outcome=ConnectionEvent.Outcome.TRANSIENT)
    ConnectionEventFactory(account=account, outcome=ConnectionEvent.Outcome.OK)
    old = ConnectionEventFactory(account=account, outcome=ConnectionEvent.Outcome.FAILED)
    ConnectionEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))

    response = admin_client.get(EVENTS, {"within": "24h", "outcome__in": "failed,transient"})

    assert {event.pk for event in response.context["cl"].result_list} == {failed.pk, outage.pk}


# --- A link's page ------------------------------------------------------------------------


def test_no_secret_appears_on_any_admin_page(admin_client):
    pins = LinkedAccountFactory(
        access_token="pin-access-SECRET-1", refresh_token="pin-refresh-SECRET-2"
    )
    records = DiscogsAccountFactory(
        access_token="discogs-access-SECRET-3", token_secret="discogs-token-SECRET-4"
    )
    event = ConnectionEventFactory(account=pins, detail="refreshed")
    pages = [
        admin_client.get(CHANGELIST),
        admin_client.get(detail(pins)),
        admin_client.get(detail(records)),
        admin_client.get(EVENTS),
        admin_client.get(reverse("admin:connections_connectionevent_change", args=[event.pk])),
        admin_client.get(reverse("admin:connections_linkedaccount_history", args=[pins.pk])),
        act(admin_client, "disconnect_links", pins, records),
        act(admin_client, "mark_needs_reconnect", pins, records),
    ]

    for page in pages:
        assert page.status_code == 200
        assert "SECRET" not in page.content.decode()
    assert listed(admin_client.get(CHANGELIST, {"q": "pin-access-SECRET-1"})) == set()


def test_a_links_page_says_which_secrets_are_present_with_a_fingerprint(admin_client):
    records = DiscogsAccountFactory(access_token="access-1", token_secret="secret-2")

    page = admin_client.get(detail(records)).content.decode()

    assert f"access token: present (fingerprint {crypto.fingerprint('access-1')})" in page
    assert f"token secret: present (fingerprint {crypto.fingerprint('secret-2')})" in page
    assert "refresh token: absent" in page


def test_a_links_page_says_so_when_no_key_decrypts_its_secrets(admin_client, settings):
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    records = DiscogsAccountFactory(access_token="access-1", token_secret="secret-2")
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    response = admin_client.get(detail(records))

    assert response.status_code == 200
    assert "no key in TOKEN_ENCRYPTION_KEYS decrypts them" in response.content.decode()


def test_a_links_page_is_read_only(admin_client):
    account = LinkedAccountFactory(username="before")

    page = admin_client.get(detail(account)).content.decode()
    attempt = admin_client.post(detail(account), {"username": "after", "status": "revoked"})

    assert 'name="_save"' not in page
    assert 'name="status"' not in page
    assert attempt.status_code == 403
    account.refresh_from_db()
    assert (account.username, account.status) == ("before", Status.ACTIVE)


def test_links_are_neither_added_nor_deleted_in_admin(admin_client):
    account = LinkedAccountFactory()

    assert admin_client.get(reverse("admin:connections_linkedaccount_add")).status_code == 403
    deleting = reverse("admin:connections_linkedaccount_delete", args=[account.pk])
    assert admin_client.post(deleting, {"post": "yes"}).status_code == 403
    assert act(admin_client, "delete_selected", account, post="yes").status_code == 302
    assert LinkedAccount.objects.filter(pk=account.pk).exists()


def test_a_links_page_shows_its_history_newest_first(admin_client):
    account = LinkedAccountFactory()
    now = timezone.now()
    for age, detail_text in ((3, "first-event"), (2, "second-event"), (1, "third-event")):
        event = ConnectionEventFactory(account=account, detail=detail_text, actor="worker")
        ConnectionEvent.objects.filter(pk=event.pk).update(created_at=now - timedelta(hours=age))
    ConnectionEventFactory(detail="another-links-event")

    page = admin_client.get(detail(account)).content.decode()

    assert page.index("third-event") < page.index("second-event") < page.index("first-event")
    assert "another-links-event" not in page
    assert f"{EVENTS}?account__id__exact={account.pk}" in page


def test_the_events_list_narrows_to_one_link(admin_client):
    account = LinkedAccountFactory()
    mine = ConnectionEventFactory(account=account)
    ConnectionEventFactory()

    response = admin_client.get(EVENTS, {"account__id__exact": account.pk})

    assert [event.pk for event in response.context["cl"].result_list] == [mine.pk]


def test_events_are_read_only_history(admin_client):
    event = ConnectionEventFactory(detail="kept")

    assert admin_client.get(reverse("admin:connections_connectionevent_add")).status_code == 403
    deleting = reverse("admin:connections_connectionevent_delete", args=[event.pk])
    assert admin_client.post(deleting, {"post": "yes"}).status_code == 403
    changing = reverse("admin:connections_connectionevent_change", args=[event.pk])
    assert admin_client.post(changing, {"detail": "rewritten"}).status_code == 403
    event.refresh_from_db()
    assert event.detail == "kept"


def test_a_links_page_offers_the_actions_as_buttons(admin_client):
    account = LinkedAccountFactory()

    page = admin_client.get(detail(account)).content.decode()

    for action in ("refresh_now", "verify_now", "disconnect_links", "mark_needs_reconnect"):
        assert f'name="action" value="{action}"' in page
    assert f'name="_selected_action" value="{account.pk}"' in page


# --- Actions ------------------------------------------------------------------------------


def test_disconnect_asks_first_then_forgets_tokens_and_records_the_admin(admin_client):
    first = LinkedAccountFactory()
    second = DiscogsAccountFactory()

    asked = act(admin_client, "disconnect_links", first, second)
    assert asked.status_code == 200
    assert "Disconnect links?" in asked.content.decode()
    assert LinkedAccount.objects.filter(status=Status.REVOKED).count() == 0

    done = act(admin_client, "disconnect_links", first, second, post="yes")

    assert done.status_code == 302
    for account in (first, second):
        account.refresh_from_db()
        assert account.status == Status.REVOKED
        assert (account.access_token, account.token_secret, account.refresh_token) == ("", "", "")
        event = account.events.get()
        assert (event.kind, event.actor) == (ConnectionEvent.Kind.DISCONNECTED, "admin:admin")
    assert messages_of(done) == ["Disconnect: 2 links succeeded."]


def test_disconnecting_an_already_disconnected_link_is_reported_as_skipped(admin_client):
    live = LinkedAccountFactory()
    gone = LinkedAccountFactory(status=Status.REVOKED, username="old-pins")

    done = act(admin_client, "disconnect_links", live, gone, post="yes")

    assert messages_of(done) == [
        "Disconnect: 1 link succeeded.",
        f"Disconnect: 1 link skipped — pinterest:old-pins (#{gone.pk}): "
        "it was already disconnected.",
    ]
    assert not gone.events.exists()


def test_marking_needs_reconnect_records_the_reason_and_the_admin(admin_client):
    account = LinkedAccountFactory()
    already = LinkedAccountFactory(status=Status.NEEDS_RECONNECT, username="waiting")

    asked = act(admin_client, "mark_needs_reconnect", account, already)
    assert 'name="reason"' in asked.content.decode()
    account.refresh_from_db()
    assert account.status == Status.ACTIVE

    done = act(
        admin_client,
        "mark_needs_reconnect",
        account,
        already,
        post="yes",
        reason="owner reported a stolen laptop",
    )

    account.refresh_from_db()
    assert account.status == Status.NEEDS_RECONNECT
    assert account.last_error == "owner reported a stolen laptop"
    event = account.events.get()
    assert (event.kind, event.actor, event.detail) == (
        ConnectionEvent.Kind.NEEDS_RECONNECT,
        "admin:admin",
        "owner reported a stolen laptop",
    )
    assert messages_of(done) == [
        "Mark as needing reconnect: 1 link succeeded.",
        "Mark as needing reconnect: 1 link skipped — "
        f"pinterest:waiting (#{already.pk}): it already needs reconnect.",
    ]
    assert not already.events.exists()


def test_marking_needs_reconnect_without_a_reason_says_an_admin_asked(admin_client):
    account = LinkedAccountFactory()

    act(admin_client, "mark_needs_reconnect", account, post="yes", reason="  ")

    account.refresh_from_db()
    assert account.last_error == "An administrator asked for this link to be connected again."


def test_refresh_reports_links_whose_tokens_do_not_expire_or_are_not_live(
    admin_client, configured_providers
):
    records = DiscogsAccountFactory(username="crates")
    revoked = LinkedAccountFactory(status=Status.REVOKED, username="gone-pins")
    waiting = LinkedAccountFactory(status=Status.NEEDS_RECONNECT, username="old-pins")

    done = act(admin_client, "refresh_now", records, revoked, waiting)

    assert messages_of(done) == [
        "Refresh: 3 links skipped — "
        f"discogs:crates (#{records.pk}): Discogs tokens do not expire; "
        f"pinterest:gone-pins (#{revoked.pk}): it is disconnected; "
        f"pinterest:old-pins (#{waiting.pk}): it already needs reconnect."
    ]
    assert not ConnectionEvent.objects.exists()


def test_verify_skips_disconnected_links(admin_client, configured_providers):
    revoked = DiscogsAccountFactory(status=Status.REVOKED, username="gone")

    done = act(admin_client, "verify_now", revoked)

    assert messages_of(done) == [
        f"Verify: 1 link skipped — discogs:gone (#{revoked.pk}): it is disconnected."
    ]


def test_links_of_an_unconfigured_or_unknown_provider_are_skipped_without_a_request(
    admin_client, settings, closed_port_url
):
    settings.CONNECTAPP_PINTEREST_CLIENT_ID = ""
    settings.CONNECTAPP_PINTEREST_API_URL = f"{closed_port_url}/v5"
    pins = LinkedAccountFactory(username="pins")
    legacy = LinkedAccountFactory(provider="myspace", username="tom")

    done = act(admin_client, "refresh_now", pins, legacy)

    assert messages_of(done) == [
        "Refresh: 2 links skipped — "
        f"pinterest:pins (#{pins.pk}): Pinterest is not configured on this site; "
        f"myspace:tom (#{legacy.pk}): no provider named myspace is configured."
    ]
    assert not ConnectionEvent.objects.exists()


def test_an_unreachable_provider_is_reported_per_link_and_changes_nothing(
    admin_client, settings, configured_providers, closed_port_url
):
    settings.CONNECTAPP_PINTEREST_API_URL = f"{closed_port_url}/v5"
    settings.CONNECTAPP_DISCOGS_API_URL = closed_port_url
    pins = LinkedAccountFactory(username="pins", access_token="old-access")
    records = DiscogsAccountFactory(username="crates")

    refreshed = act(admin_client, "refresh_now", pins)
    assert messages_of(refreshed) == [
        f"Refresh: 1 link failed — pinterest:pins (#{pins.pk}): Pinterest could not be reached."
    ]
    admin_client.get(CHANGELIST)  # the admin reads that message
    verified = act(admin_client, "verify_now", records)
    assert messages_of(verified) == [
        f"Verify: 1 link failed — discogs:crates (#{records.pk}): Discogs could not be reached."
    ]
    pins.refresh_from_db()
    records.refresh_from_db()
    assert (pins.status, pins.access_token) == (Status.ACTIVE, "old-access")
    assert records.status == Status.ACTIVE
    for account, kind in ((pins, "refreshed"), (records, "verified")):
        event = account.events.get()
        assert (event.kind, event.outcome, event.actor) == (kind, "transient", "admin:admin")


# --- Who may see and act ------------------------------------------------------------------


def test_people_who_are_not_staff_are_sent_to_the_admin_sign_in(client, user):
    account = LinkedAccountFactory()
    client.force_login(user)

    for response in (
        client.get(CHANGELIST),
        client.get(detail(account)),
        act(client, "disconnect_links", account, post="yes"),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    account.refresh_from_db()
    assert account.status == Status.ACTIVE


def test_staff_without_permissions_see_nothing(client):
    account = LinkedAccountFactory()
    client.force_login(staff("intern"))

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(detail(account)).status_code == 403
    assert client.get(EVENTS).status_code == 403
    assert act(client, "disconnect_links", account, post="yes").status_code == 403
    account.refresh_from_db()
    assert account.status == Status.ACTIVE


def test_staff_who_may_only_view_cannot_act(client):
    account = LinkedAccountFactory()
    client.force_login(staff("auditor", "view_linkedaccount", "view_connectionevent"))

    page = client.get(CHANGELIST)
    mark = act(client, "mark_needs_reconnect", account, post="yes")

    assert page.status_code == 200
    assert page.context["action_form"] is None
    assert 'name="action"' not in client.get(detail(account)).content.decode()
    assert mark.status_code in (200, 302)
    account.refresh_from_db()
    assert account.status == Status.ACTIVE
    assert not account.events.exists()


def test_disconnecting_needs_its_own_permission(client):
    account = LinkedAccountFactory()
    client.force_login(staff("helpdesk", "view_linkedaccount", "change_linkedaccount"))

    choices = dict(client.get(CHANGELIST).context["action_form"].fields["action"].choices)
    attempt = act(client, "disconnect_links", account, post="yes")
    mark = act(client, "mark_needs_reconnect", account, post="yes")

    assert "disconnect_links" not in choices
    assert {"refresh_now", "verify_now", "mark_needs_reconnect"} <= set(choices)
    assert attempt.status_code in (200, 302)
    account.refresh_from_db()
    assert account.status == Status.NEEDS_RECONNECT
    assert [event.kind for event in account.events.all()] == ["needs_reconnect"]
    assert mark.status_code == 302


def test_staff_with_the_disconnect_permission_can_disconnect(client):
    account = LinkedAccountFactory()
    client.force_login(
        staff("lead", "view_linkedaccount", "change_linkedaccount", "disconnect_linkedaccount")
    )

    done = act(client, "disconnect_links", account, post="yes")

    assert messages_of(done) == ["Disconnect: 1 link succeeded."]
    account.refresh_from_db()
    assert account.status == Status.REVOKED
    assert account.events.get().actor == "admin:lead"
