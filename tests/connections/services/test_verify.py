"""Verifying Discogs links in the background, against the Discogs stand-in over real HTTP.

A 200 refreshes the username and the last check; Discogs' 401 asks the user to reconnect;
an outage (timeout, 5xx, 429, garbage) leaves the link as it was and is retried later.
"""

import os
import subprocess
import sys
from io import StringIO

import pytest
from celery.exceptions import Retry
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command

from connectapp import conf
from connectapp.celery import app
from connectapp.connections import services, tasks
from connectapp.connections.models import ConnectionEvent, LinkedAccount
from connectapp.exceptions import AccessRevoked, ProviderUnavailable
from tests.factories import DiscogsAccountFactory, LinkedAccountFactory

Kind = ConnectionEvent.Kind
Outcome = ConnectionEvent.Outcome
Status = LinkedAccount.Status

OUTAGES = {
    "timeout": {"kind": "latency", "delay": 1.0},
    "500": {"kind": "error", "status": 500},
    "503": {"kind": "error", "status": 503, "retry_after": 45},
    "429": {"kind": "rate_limit", "retry_after": 120},
    "garbage": {"kind": "garbage"},
}


@pytest.fixture(autouse=True)
def quick_timeout(settings) -> None:
    """An outage here is a stand-in that does not answer: give up on it quickly."""
    settings.CONNECTAPP_HTTP_TIMEOUT = 0.5


@pytest.fixture
def link(discogs, user, settings) -> LinkedAccount:
    """Alice's link to a Discogs account whose credentials the stand-in honours."""
    grant = discogs.issue_access_token(conf.value("DISCOGS_CONSUMER_KEY"), "crate-digger")
    return DiscogsAccountFactory(
        user=user,
        external_id=str(grant.user_id),
        username="crate-digger",
        access_token=grant.token,
        token_secret=grant.secret,
        last_verified_at=None,
    )


def row(account: LinkedAccount) -> dict:
    return LinkedAccount.objects.filter(pk=account.pk).values().get()


def test_verifying_records_the_check_and_a_changed_username(link, discogs):
    discogs.rename_user("crate-digger", "digger-of-crates")

    assert services.verify(link.pk) == "verified"

    link.refresh_from_db()
    assert link.username == "digger-of-crates"
    assert link.last_verified_at is not None
    assert link.status == Status.ACTIVE
    event = link.events.get()
    assert (event.kind, event.outcome, event.actor) == (Kind.VERIFIED, Outcome.OK, "worker")


def test_a_username_longer_than_the_column_is_kept_shortened(link, discogs):
    discogs.rename_user("crate-digger", "d" * 300)

    assert services.verify(link.pk) == "verified"
    assert services.verify(link.pk) == "verified"

    link.refresh_from_db()
    assert link.username == "d" * LinkedAccount._meta.get_field("username").max_length
    assert link.events.count() == 1  # the second check found nothing changed


def test_a_routine_check_by_the_worker_adds_no_event(link):
    assert services.verify(link.pk) == "verified"
    assert not link.events.exists()


def test_revoked_credentials_ask_the_user_to_reconnect(link, discogs, signed_in):
    discogs.revoke(token=link.access_token)

    assert services.verify(link.pk) == "needs_reconnect"

    link.refresh_from_db()
    assert link.status == Status.NEEDS_RECONNECT
    assert "401" in link.last_error
    event = link.events.get()
    assert (event.kind, event.outcome, event.actor) == (
        Kind.NEEDS_RECONNECT,
        Outcome.FAILED,
        "worker",
    )
    page = signed_in.get("/connections/").content.decode()
    assert "Needs reconnect" in page
    assert "Discogs no longer accepts this connection. Reconnect to keep it working." in page


def test_checking_a_link_already_waiting_for_a_reconnect_adds_no_event_and_no_mail(link, discogs):
    discogs.revoke(token=link.access_token)
    assert services.verify(link.pk) == "needs_reconnect"
    assert len(mail.outbox) == 1

    # The verify schedule checks every live link, those waiting for a reconnect too.
    assert services.verify(link.pk) == "needs_reconnect"
    assert services.verify(link.pk, actor="admin:root") == "needs_reconnect"

    assert list(link.events.values_list("kind", flat=True)) == [Kind.NEEDS_RECONNECT]
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("outage", OUTAGES.values(), ids=OUTAGES.keys())
def test_an_outage_leaves_the_link_untouched(link, discogs, outage):
    before = row(link)
    discogs.inject_fault(endpoint="identity", **outage)

    with pytest.raises(ProviderUnavailable):
        services.verify(link.pk)

    assert row(link) == before
    event = link.events.get()
    assert (event.kind, event.outcome) == (Kind.VERIFIED, Outcome.TRANSIENT)


def test_the_task_retries_an_outage_no_sooner_than_retry_after(link, discogs):
    before = row(link)
    discogs.inject_fault("rate_limit", "identity", retry_after=900)

    # The request a worker would hand the task on its first delivery.
    tasks.verify_account.push_request(
        id="verify-1", retries=0, is_eager=True, called_directly=False
    )
    try:
        with pytest.raises(Retry) as retry:
            tasks.verify_account.run(link.pk)
    finally:
        tasks.verify_account.pop_request()

    assert retry.value.when >= 900
    assert isinstance(retry.value.exc, ProviderUnavailable)
    assert row(link) == before


def test_the_task_backs_off_further_on_each_retry(link, discogs):
    discogs.inject_fault("error", "identity", status=502, times=2)
    countdowns = []
    for attempt in (0, 4):
        tasks.verify_account.push_request(
            id=f"verify-{attempt}", retries=attempt, is_eager=True, called_directly=False
        )
        try:
            with pytest.raises(Retry) as retry:
                tasks.verify_account.run(link.pk)
        finally:
            tasks.verify_account.pop_request()
        countdowns.append(retry.value.when)
    assert countdowns[1] > countdowns[0] >= 30 * 0.75


def test_the_task_verifies_once_discogs_is_back(link, discogs):
    before = row(link)
    discogs.inject_fault("error", "identity", status=503)

    result = tasks.verify_account.apply(args=[link.pk])

    assert result.get() == "verified"
    assert [call.status for call in discogs.calls("identity")] == [503, 200]
    link.refresh_from_db()
    assert link.status == before["status"] == Status.ACTIVE
    assert link.last_verified_at is not None


def test_the_task_gives_up_after_its_retries_with_the_link_untouched(link, discogs):
    before = row(link)
    discogs.inject_fault("error", "identity", status=500, times=100)

    result = tasks.verify_account.apply(args=[link.pk])

    assert isinstance(result.result, ProviderUnavailable)
    assert len(discogs.calls("identity")) == tasks.MAX_RETRIES + 1
    assert row(link) == before


def test_the_schedule_enqueues_a_check_of_every_live_discogs_link(link, discogs, user, redis_url):
    disconnected = DiscogsAccountFactory(user=user, status=Status.REVOKED)
    broken = DiscogsAccountFactory(user=user, status=Status.NEEDS_RECONNECT)
    LinkedAccountFactory(user=user)  # Pinterest: kept alive by refreshing, not by verifying
    app.control.purge()

    assert tasks.verify_all.apply().get() == 2

    queued = []
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(django_settings.CONNECTAPP_PROVIDER_QUEUE)
        try:
            while True:
                message = queue.get(timeout=2)
                args, _kwargs, _embed = message.decode()
                queued.append((message.headers["task"], args[0]))
                message.ack()
        except queue.Empty:
            pass
        finally:
            queue.close()
    assert sorted(queued) == sorted(
        [(tasks.verify_account.name, link.pk), (tasks.verify_account.name, broken.pk)]
    )
    assert disconnected.pk not in [account_id for _name, account_id in queued]

    for _name, account_id in queued:
        tasks.verify_account.apply(args=[account_id])
    link.refresh_from_db()
    assert link.last_verified_at is not None


def test_the_verify_schedule_runs_at_the_configured_interval():
    entry = django_settings.CELERY_BEAT_SCHEDULE["verify-links"]
    assert entry["task"] == tasks.verify_all.name
    assert entry["task"] in app.tasks

    configured = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.CELERY_BEAT_SCHEDULE['verify-links']['schedule'])",
        ],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "standalone.settings",
            "DEBUG": "true",
            "CONNECTAPP_VERIFY_INTERVAL_SECONDS": "900",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert float(configured.stdout) == 900


def test_the_command_verifies_by_hand_and_reports_each_link(link, discogs, user, settings):
    other = discogs.issue_access_token(conf.value("DISCOGS_CONSUMER_KEY"), "second-account")
    revoked = DiscogsAccountFactory(
        user=user,
        external_id=str(other.user_id),
        access_token=other.token,
        token_secret=other.secret,
    )
    discogs.revoke(token=other.token)
    out = StringIO()

    call_command("connections", "verify", "--all", stdout=out)

    assert out.getvalue().splitlines() == [
        f"link {link.pk}: verified",
        f"link {revoked.pk}: needs_reconnect",
    ]
    assert LinkedAccount.objects.get(pk=revoked.pk).status == Status.NEEDS_RECONNECT


def test_the_command_reports_an_outage_and_changes_nothing(link, discogs):
    before = row(link)
    discogs.inject_fault("rate_limit", "identity", retry_after=60)
    out = StringIO()

    call_command("connections", "verify", str(link.pk), stdout=out)

    assert out.getvalue().strip() == (
        f"link {link.pk}: provider unavailable (Discogs is rate limiting us (HTTP 429)); "
        "try again later"
    )
    assert row(link) == before


def test_site_code_gets_a_signed_session_for_a_link(link, discogs, settings):
    session = services.authorized_session(link)

    response = session.get("/oauth/identity")

    assert response.status_code == 200
    assert response.json()["username"] == "crate-digger"
    assert discogs.calls("identity")[-1].user_agent == settings.CONNECTAPP_USER_AGENT


def test_site_code_holding_a_link_from_before_its_disconnect_gets_no_session(link, discogs):
    held = LinkedAccount.objects.get(pk=link.pk)
    assert services.disconnect(link.pk, actor="user:alice")

    with pytest.raises(AccessRevoked):
        services.authorized_session(held)
    assert not discogs.calls("identity")


def test_site_code_gets_no_session_for_a_link_that_needs_reconnecting(link, discogs):
    discogs.revoke(token=link.access_token)
    services.verify(link.pk)
    link.refresh_from_db()

    with pytest.raises(AccessRevoked):
        services.authorized_session(link)
