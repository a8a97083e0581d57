"""The background side with real worker processes, the real Redis broker, real PostgreSQL and
the Pinterest stand-in over HTTP: the schedule, duplicates, disconnected links, killed workers.
"""

import os
import signal
from datetime import timedelta

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from connectapp.connections import services, tasks
from connectapp.connections.models import ConnectionEvent, LinkedAccount, RefreshSchedule
from connectapp.sandbox.pinterest import standin
from tests.support.pinterest_support import pinterest_link
from tests.support.workers import finished, outcomes, stored, wait_until

Status = LinkedAccount.Status


def test_a_due_link_is_refreshed_by_the_schedule(pinterest, user, start_worker):
    due = pinterest_link(user, "due-soon", expires_in=timedelta(hours=1))
    later = pinterest_link(user, "later", expires_in=timedelta(days=20))
    later_before = LinkedAccount.objects.filter(pk=later.pk).values().get()

    start_worker(beat=True, env={"CONNECTAPP_REFRESH_SWEEP_SECONDS": "1"})

    wait_until(
        lambda: stored(due).expires_at > timezone.now() + timedelta(days=29),
        what="the schedule to refresh the due link",
    )
    refreshed = stored(due)
    assert refreshed.access_token != due.access_token
    assert RefreshSchedule.objects.get(pk=refreshed.pk).queued_at is None
    assert standin.refresh_token_is_live(refreshed.refresh_token)
    event = refreshed.events.get()
    assert (event.kind, event.outcome, event.actor) == ("refreshed", "ok", "worker")
    assert [call.grant_type for call in standin.calls("token")] == ["refresh_token"]
    assert LinkedAccount.objects.filter(pk=later.pk).values().get() == later_before


def test_twenty_duplicate_enqueues_of_one_link_cause_one_provider_request(
    pinterest, user, start_worker
):
    account = pinterest_link(user)
    # Pinterest answers slowly, so the duplicates pile up behind the first one's row lock.
    standin.inject_fault("latency", "token", delay=0.5)
    for _ in range(20):
        tasks.refresh_account.delay(account.pk)

    start_worker(concurrency=4)

    wait_until(lambda: finished("refresh") == 20, what="20 refresh tasks to finish")
    assert len(standin.calls("token")) == 1
    counted = outcomes("refresh")
    assert counted.pop("refreshed") == 1
    assert set(counted) <= {"already_refreshed", "not_due"}
    assert sum(counted.values()) == 19
    refreshed = stored(account)
    assert standin.refresh_token_is_live(refreshed.refresh_token)
    assert refreshed.events.filter(kind=ConnectionEvent.Kind.REFRESHED).count() == 1


def test_a_disconnected_links_queued_refresh_is_a_no_op(pinterest, user, start_worker):
    account = pinterest_link(user)
    assert tasks.refresh_due() == 1
    assert RefreshSchedule.objects.get(pk=account.pk).queued_at is not None
    services.disconnect(account.pk, actor="user:alice")
    before = LinkedAccount.objects.filter(pk=account.pk).values().get()

    start_worker()

    wait_until(lambda: finished("refresh") == 1, what="the queued refresh to run")
    assert outcomes("refresh") == {"skipped": 1}
    assert standin.calls("token") == []
    after = LinkedAccount.objects.filter(pk=account.pk).values().get()
    assert RefreshSchedule.objects.get(pk=account.pk).queued_at is None
    assert after == before
    assert list(stored(account).events.values_list("kind", flat=True)) == ["disconnected"]


def row_is_locked(account: LinkedAccount) -> bool:
    try:
        with transaction.atomic():
            LinkedAccount.objects.select_for_update(nowait=True).filter(pk=account.pk).get()
    except DatabaseError:
        return True
    return False


def test_a_worker_killed_mid_refresh_leaves_the_link_consistent_and_the_refresh_is_redone(
    pinterest, user, start_worker
):
    account = pinterest_link(user)
    # The first token request hangs before Pinterest acts on it: the worker is killed there.
    standin.inject_fault("latency", "token", delay=10)
    assert tasks.refresh_due() == 1
    worker = start_worker(concurrency=1)
    wait_until(lambda: row_is_locked(account), what="the worker to lock the link")
    [child] = worker.pool_processes()

    os.kill(child, signal.SIGKILL)

    # The killed task's transaction died with its connection; the worker requeued the message
    # (acks_late + reject_on_worker_lost) and a new pool process refreshed the link.
    wait_until(lambda: stored(account).last_refreshed_at is not None, what="the redone refresh")
    refreshed = stored(account)
    assert refreshed.status == Status.ACTIVE
    assert refreshed.access_token != account.access_token
    assert RefreshSchedule.objects.get(pk=refreshed.pk).queued_at is None
    assert standin.refresh_token_is_live(refreshed.refresh_token)
    assert list(refreshed.events.values_list("kind", "outcome")) == [("refreshed", "ok")]
    # The hung request reaches Pinterest at last with the refresh token that was replaced
    # meanwhile: refused, and it changes nothing here.
    wait_until(lambda: len(standin.calls("token")) == 2, timeout=30, what="the hung request")
    assert sorted(call.status for call in standin.calls("token")) == [200, 400]
    assert stored(account).refresh_token == refreshed.refresh_token
    assert standin.refresh_token_is_live(refreshed.refresh_token)


def sessions_opened() -> int:
    """Return how many sessions PostgreSQL has opened to this database so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_a_worker_process_keeps_its_database_connection_across_refreshes(
    pinterest, user, start_worker
):
    links = [pinterest_link(user, f"pinner-{n}") for n in range(20)]
    before = sessions_opened()

    worker = start_worker(concurrency=2)
    for link in links:
        tasks.refresh_account.delay(link.pk)
    wait_until(lambda: finished("refresh") == 20, what="20 refreshes")
    worker.stop()

    assert outcomes("refresh") == {"refreshed": 20}
    # One connection per pool process, and one for the worker's main process at most; the
    # counts reach the statistics when each session ends (stopping the worker ends them).
    wait_until(lambda: sessions_opened() - before >= 1, what="the sessions to be counted")
    assert sessions_opened() - before <= 2 + 1


def test_links_the_sweep_publishes_in_bulk_are_each_refreshed_once_by_a_worker(
    pinterest, user, start_worker
):
    links = [pinterest_link(user, f"pinner-{n}") for n in range(12)]
    assert tasks.refresh_due() == 12

    start_worker(concurrency=2)

    wait_until(lambda: finished("refresh") == 12, what="12 refreshes")
    assert outcomes("refresh") == {"refreshed": 12}
    assert len(standin.calls("token")) == 12
    for link in links:
        refreshed = stored(link)
        assert standin.refresh_token_is_live(refreshed.refresh_token)
        assert RefreshSchedule.objects.get(pk=link.pk).queued_at is None
