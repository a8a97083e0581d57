"""A refresh does only what it must: the statements it sends, the columns it writes (so its
UPDATE is HOT), and the connection it keeps to the provider. Counts, never times."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connectapp.connections import services
from connectapp.connections.models import ConnectionEvent, LinkedAccount, RefreshSchedule
from connectapp.providers import http
from tests.factories import LinkedAccountFactory
from tests.support.pinterest_support import pinterest_link


def link_table_updates() -> tuple[int, int]:
    """Return the link table's (updates, HOT updates) so far, this backend's included."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    # The backend flushes its counts when idle, i.e. between the two statements.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
            "WHERE relname = 'connections_linkedaccount'"
        )
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_routine_refreshes_update_the_link_row_in_place(pinterest, user, postgres):
    links = [pinterest_link(user, f"pinner-{n}") for n in range(20)]
    for link in links:  # the first update of a freshly inserted row may find its page full
        assert services.refresh(link.pk, force=True) == "refreshed"
    updates, hot = link_table_updates()

    for _ in range(3):
        for link in links:
            assert services.refresh(link.pk, force=True) == "refreshed"

    updates_after, hot_after = link_table_updates()
    assert updates_after - updates == 60
    assert (hot_after - hot) / (updates_after - updates) >= 0.9


@pytest.mark.django_db
def test_a_refresh_locks_the_row_writes_what_changed_and_records_one_event(pinterest, user):
    link = pinterest_link(user, "p")
    RefreshSchedule.objects.filter(pk=link.pk).update(queued_at=timezone.now())

    with CaptureQueriesContext(connection) as queries:
        assert services.refresh_queued(link.pk) == "refreshed"

    statements = [query["sql"] for query in queries]
    # Lock (reading the owner too, for the signals); then one statement writes what changed,
    # the history entry and its outbox row; commit; nothing after the commit.
    assert [sql.split()[0] for sql in statements] == ["BEGIN", "SELECT", "WITH", "COMMIT"]
    assert statements[1].endswith("FOR UPDATE OF l")
    write = statements[2]
    assert 'INSERT INTO "connections_connectionevent"' in write
    assert 'INSERT INTO "connections_announcedevent"' in write
    written = write.split(" SET ")[1].split(" WHERE ")[0]
    assert sorted(part.split(" = ")[0].strip('"') for part in written.split(", ")) == [
        "access_token", "expires_at", "last_refreshed_at", "refresh_expires_at",
        "refresh_token", "updated_at",
    ]  # fmt: skip
    # The trigger moved the link's schedule and ended the sweep's mark.
    schedule = RefreshSchedule.objects.get(pk=link.pk)
    assert schedule.queued_at is None
    assert schedule.due_at == LinkedAccount.objects.get(pk=link.pk).expires_at


@pytest.mark.django_db
def test_a_link_leaving_the_active_state_leaves_the_schedule(pinterest, user):
    link = pinterest_link(user, expires_in=timedelta(hours=1))
    assert LinkedAccount.objects.due(timedelta(hours=2)).get() == link

    link.mark_needs_reconnect("refused")

    assert RefreshSchedule.objects.get(pk=link.pk).due_at is None
    assert not LinkedAccount.objects.due(timedelta(hours=2)).exists()


@pytest.mark.django_db
def test_refreshes_in_one_thread_share_one_kept_alive_connection(pinterest, user, sandbox):
    links = [pinterest_link(user, f"pinner-{n}") for n in range(3)]
    kept = http.keep_alive(http.requests.Session()).get_adapter(sandbox).poolmanager
    kept.clear()  # no connection left from an earlier test

    for link in links:
        assert services.refresh(link.pk, force=True) == "refreshed"

    pools = [kept.pools[key] for key in kept.pools.keys()]  # noqa: SIM118 (no __iter__)
    assert [pool.num_connections for pool in pools] == [1]


def plan(queryset) -> str:
    """Return PostgreSQL's plan for the queryset when it may read no table whole."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


WINDOW = timedelta(hours=2)


@pytest.mark.parametrize(
    ("reading", "indexes"),
    [
        # `connections refresh --due` and the admin's filter: waiting and queued links.
        (
            lambda: LinkedAccount.objects.filter(provider__in=["pinterest"]).due(WINDOW),
            ["schedule_waiting_idx", "schedule_queued_idx"],
        ),
        (
            lambda: LinkedAccount.objects.due(WINDOW).filter(expires_at__gte=timezone.now()),
            ["schedule_waiting_idx", "schedule_queued_idx"],
        ),
        # The stats: the waiting ones.
        (
            lambda: LinkedAccount.objects.filter(provider__in=["pinterest"]).due(WINDOW).unqueued(),
            ["schedule_waiting_idx"],
        ),
        # The sweep's claim and its release of lost marks.
        (
            lambda: RefreshSchedule.objects.filter(
                provider="pinterest", queued_at__isnull=True, due_at__lte=timezone.now() + WINDOW
            ).order_by("due_at"),
            ["schedule_waiting_idx"],
        ),
        (
            lambda: RefreshSchedule.objects.filter(queued_at__lt=timezone.now()),
            ["schedule_queued_idx"],
        ),
    ],
    ids=["command", "admin", "stats", "claim", "release"],
)
def test_every_reading_of_the_schedule_is_an_index_scan(reading, indexes, user, postgres):
    # Enough links, a few of them due, for the planner to start from the schedule.
    later = timezone.now() + timedelta(days=20)
    LinkedAccount.objects.bulk_create(
        LinkedAccountFactory.build(user=user, expires_at=later - timedelta(days=n % 20))
        for n in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE connections_linkedaccount")
        cursor.execute("ANALYZE connections_refreshschedule")

    found = plan(reading())

    assert "Seq Scan on connections_refreshschedule" not in found, found
    for index in indexes:
        assert index in found, found


@pytest.mark.django_db
def test_due_holds_the_queued_links_and_unqueued_leaves_them_out(user):
    soon = [LinkedAccountFactory(user=user, expires_at=timezone.now() + timedelta(hours=1))
            for _ in range(2)]  # fmt: skip
    LinkedAccountFactory(user=user, expires_at=timezone.now() + timedelta(days=3))
    RefreshSchedule.objects.filter(pk=soon[1].pk).update(queued_at=timezone.now())

    assert set(LinkedAccount.objects.due(WINDOW)) == set(soon)
    assert list(LinkedAccount.objects.due(WINDOW).unqueued()) == [soon[0]]
    assert not LinkedAccount.objects.due(timedelta(0)).exists()


def test_an_event_writes_no_index_of_the_link_alone_and_a_links_history_reads_its_own(user):
    link = LinkedAccountFactory(user=user)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'connections_connectionevent'"
        )
        indexes = [row[0] for row in cursor.fetchall()]

    assert not [index for index in indexes if index.endswith("(account_id)")], indexes
    assert "event_account_time_idx" in plan(link.events.all())
    assert "event_account_time_idx" in plan(ConnectionEvent.objects.filter(account_id=link.pk))
