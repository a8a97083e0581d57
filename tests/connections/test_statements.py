"""The refresh's statements written out once (`statements`) read and write exactly what the ORM
would: the same link and owner, the same lock, the same rows."""

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connectapp import conf
from connectapp.connections import services, statements
from connectapp.connections.models import (
    AnnouncedEvent,
    ConnectionEvent,
    LinkedAccount,
    WebhookDelivery,
    WebhookEndpoint,
)
from connectapp.connections.services import webhooks
from tests.factories import DiscogsAccountFactory, LinkedAccountFactory


def as_the_orm_reads_it(pk: int) -> LinkedAccount:
    return LinkedAccount.objects.select_related("user").get(pk=pk)


def fields_of(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.fields}


@pytest.mark.parametrize("factory", [LinkedAccountFactory, DiscogsAccountFactory])
def test_the_locked_read_builds_the_link_and_its_owner_as_the_orm_does(factory, postgres):
    link = factory(last_error="refused", last_error_at=timezone.now())

    with transaction.atomic():
        read = statements.lock_link(link.pk)
        expected = as_the_orm_reads_it(link.pk)
        assert fields_of(read) == fields_of(expected)
        assert read._state.adding is False and read._state.db == "default"
        assert read._loaded_status == link.status  # post_init ran, as for the ORM's rows
        with CaptureQueriesContext(connection) as queries:
            owner = read.user
        assert queries.captured_queries == []
        assert fields_of(owner) == fields_of(expected.user)


def test_the_locked_read_of_an_app_level_link_has_no_owner(postgres):
    link = LinkedAccountFactory(user=None, refresh_token="")

    with transaction.atomic():
        read = statements.lock_link(link.pk)
        with CaptureQueriesContext(connection) as queries:
            assert read.user is None
        assert queries.captured_queries == []
        assert fields_of(read) == fields_of(as_the_orm_reads_it(link.pk))


def test_the_locked_read_of_no_link_is_none(postgres):
    with transaction.atomic():
        assert statements.lock_link(987654) is None


def other_session_can_lock(table: str, pk: int) -> bool:
    """Return whether another database session can lock the row now (without waiting)."""
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"],
        dbname=settings["NAME"],
    ) as other:
        try:
            other.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [pk])
        except psycopg.errors.LockNotAvailable:
            return False
        return True


@pytest.mark.django_db(transaction=True)
def test_the_locked_read_locks_the_links_row_and_not_its_owners(postgres):
    link = LinkedAccountFactory()

    with transaction.atomic():
        statements.lock_link(link.pk)
        assert not other_session_can_lock("connections_linkedaccount", link.pk)
        assert other_session_can_lock("auth_user", link.user_id)
    assert other_session_can_lock("connections_linkedaccount", link.pk)


def write(link: LinkedAccount, fields: list[str]) -> tuple[ConnectionEvent, AnnouncedEvent]:
    history = ConnectionEvent(account=link, kind="refreshed", detail="why", actor="worker")
    event = AnnouncedEvent(
        type="link.refreshed", payload={"actor": "worker"}, account=link, created_at=timezone.now()
    )
    with transaction.atomic():
        statements.write_and_record(link, fields, history, event)
    return history, event


def test_the_write_saves_the_fields_named_and_inserts_the_entry_and_its_announcement(postgres):
    link = LinkedAccountFactory(username="before")
    before = as_the_orm_reads_it(link.pk)
    link.access_token, link.refresh_token = "new-access", "new-refresh"
    link.username = "not written"

    history, event = write(link, ["access_token", "refresh_token", "updated_at"])

    after = as_the_orm_reads_it(link.pk)
    assert (after.access_token, after.refresh_token) == ("new-access", "new-refresh")
    assert after.username == "before"
    assert after.updated_at > before.updated_at
    assert fields_of(ConnectionEvent.objects.get()) == fields_of(history)
    stored = AnnouncedEvent.objects.get()
    assert fields_of(stored) == fields_of(event)
    assert stored.connection_event_id == history.pk
    assert (history._state.adding, event._state.adding) == (False, False)


def test_the_write_with_no_fields_only_records(postgres):
    link = LinkedAccountFactory()
    before = fields_of(as_the_orm_reads_it(link.pk))

    with CaptureQueriesContext(connection) as queries:
        history, _ = write(link, [])

    [sql] = [query["sql"] for query in queries if "SAVEPOINT" not in query["sql"]]
    assert sql.startswith("WITH history AS (INSERT")
    assert " UPDATE " not in sql
    assert fields_of(as_the_orm_reads_it(link.pk)) == before
    assert AnnouncedEvent.objects.get().connection_event_id == history.pk


@pytest.mark.parametrize(
    ("endpoints", "dispatched", "made", "ready"),
    [
        ([], True, 0, 0),
        ([{"events": ["link.error"]}], True, 0, 0),
        ([{"events": ["link.error"]}, {"events": []}], False, 1, 1),
        ([{"events": ["link.refreshed"]}], False, 1, 1),
        ([{"events": ["link.refreshed"], "is_active": False}], True, 0, 0),
        # A disabled endpoint's delivery waits for it to be enabled again.
        ([{"events": [], "is_active": False, "disabled_at": timezone.now()}], False, 1, 0),
    ],
    ids=["none", "another-type", "one-wants-every-type", "one-wants-it", "paused", "disabled"],
)
def test_an_event_no_endpoint_wants_is_born_dispatched_and_asks_no_worker(
    endpoints, dispatched, made, ready, postgres, broker_queues, django_capture_on_commit_callbacks
):
    for number, options in enumerate(endpoints):
        WebhookEndpoint.objects.create(url=f"https://hooks.example/{number}", **options)
    link = LinkedAccountFactory()

    with django_capture_on_commit_callbacks(execute=True):
        services.record_event(link, "refreshed", actor="worker")

    event = AnnouncedEvent.objects.get()
    assert (event.dispatched_at is not None) is dispatched
    waiting = broker_queues.llen(conf.value("WEBHOOK_QUEUE"))
    assert waiting == (0 if dispatched else 1)
    # What the worker's fan-out makes of it: deliveries only where it was left to it.
    assert len(webhooks.dispatch(event.pk)) == ready
    assert WebhookDelivery.objects.count() == made
