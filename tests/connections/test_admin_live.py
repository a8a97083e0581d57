"""The admin's refresh and verify actions against the provider stand-ins over real HTTP."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from connectapp.connections.models import ConnectionEvent, LinkedAccount
from connectapp.sandbox import discogs, pinterest
from tests.connections.test_admin import CHANGELIST, act, messages_of
from tests.factories import DiscogsAccountFactory, LinkedAccountFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_password_hashing")]

Status = LinkedAccount.Status
DISCOGS_KEY = "sandbox-discogs-key"


def pinterest_link(username: str, **fields) -> LinkedAccount:
    """A link holding tokens the Pinterest stand-in issued, as if `username` had connected."""
    answer = pinterest.standin.issue_tokens(username)
    return LinkedAccountFactory(
        external_id=pinterest.standin.user_id(username),
        username=username,
        access_token=answer["access_token"],
        refresh_token=answer["refresh_token"],
        expires_at=timezone.now() + timedelta(days=29),
        **fields,
    )


def discogs_link(username: str) -> tuple[LinkedAccount, discogs.AccessGrant]:
    grant = discogs.standin.issue_access_token(DISCOGS_KEY, username)
    link = DiscogsAccountFactory(
        external_id=str(grant.user_id),
        username=username,
        access_token=grant.token,
        token_secret=grant.secret,
    )
    return link, grant


def test_refresh_now_renews_a_token_not_yet_due_and_records_the_admin(standins, admin_client):
    link = pinterest_link("pin-collector")
    old_access, old_refresh = link.access_token, link.refresh_token

    done = act(admin_client, "refresh_now", link)

    assert messages_of(done) == ["Refresh: 1 link succeeded."]
    link.refresh_from_db()
    assert link.access_token != old_access
    assert link.refresh_token != old_refresh
    assert pinterest.standin.refresh_token_is_live(link.refresh_token)
    assert link.last_refreshed_at is not None
    event = link.events.get()
    assert (event.kind, event.outcome, event.actor) == ("refreshed", "ok", "admin:admin")


def test_refresh_now_reports_each_links_result(standins, admin_client):
    unlucky = pinterest_link("during-outage")
    fine = pinterest_link("fine")
    removed = pinterest_link("removed-the-app")
    pinterest.standin.revoke_user("removed-the-app")
    pinterest.standin.inject_fault("error", "token", status=503)

    done = act(admin_client, "refresh_now", fine, removed, unlucky)

    succeeded, failed = messages_of(done)
    assert succeeded == "Refresh: 1 link succeeded."
    assert failed.startswith("Refresh: 2 links failed — ")
    assert f"pinterest:during-outage (#{unlucky.pk}): Pinterest answered HTTP 503" in failed
    assert f"pinterest:removed-the-app (#{removed.pk}): refused by the provider (" in failed
    assert "now needs reconnect" in failed
    statuses = dict(LinkedAccount.objects.values_list("username", "status"))
    assert statuses == {
        "during-outage": Status.ACTIVE,
        "fine": Status.ACTIVE,
        "removed-the-app": Status.NEEDS_RECONNECT,
    }
    outcomes = {
        (event.account.username, event.kind, event.outcome, event.actor)
        for event in ConnectionEvent.objects.select_related("account")
    }
    assert outcomes == {
        ("during-outage", "refreshed", "transient", "admin:admin"),
        ("fine", "refreshed", "ok", "admin:admin"),
        ("removed-the-app", "needs_reconnect", "failed", "admin:admin"),
    }


def test_verify_now_asks_discogs_and_records_the_admin(standins, admin_client):
    kept, _ = discogs_link("crate-digger")
    revoked, grant = discogs_link("changed-their-mind")
    discogs.standin.revoke(token=grant.token)

    done = act(admin_client, "verify_now", kept, revoked)

    succeeded, failed = messages_of(done)
    assert succeeded == "Verify: 1 link succeeded."
    assert failed.startswith(
        f"Verify: 1 link failed — discogs:changed-their-mind (#{revoked.pk}): "
        "refused by the provider ("
    )
    kept.refresh_from_db()
    revoked.refresh_from_db()
    assert kept.status == Status.ACTIVE
    assert kept.last_verified_at is not None
    assert revoked.status == Status.NEEDS_RECONNECT
    assert [(e.kind, e.actor) for e in kept.events.all()] == [("verified", "admin:admin")]
    assert [(e.kind, e.actor) for e in revoked.events.all()] == [("needs_reconnect", "admin:admin")]


def test_verify_now_picks_up_a_renamed_account(standins, admin_client):
    link, _ = discogs_link("old-name")
    discogs.standin.rename_user("old-name", "new-name")

    act(admin_client, "verify_now", link)

    link.refresh_from_db()
    assert link.username == "new-name"
    assert link.events.get().detail == "as new-name"


def test_a_links_page_button_verifies_that_link(standins, admin_client):
    link, _ = discogs_link("crate-digger")
    page = admin_client.get(reverse("admin:connections_linkedaccount_change", args=[link.pk]))
    assert 'value="verify_now"' in page.content.decode()

    pressed = admin_client.post(
        CHANGELIST, {"action": "verify_now", "index": 0, "_selected_action": link.pk}
    )

    assert messages_of(pressed) == ["Verify: 1 link succeeded."]
    assert link.events.get().actor == "admin:admin"
