"""History stays bounded: routine refreshes are pruned after the retention period, in small
batches; every change of a link's state is kept."""

from datetime import timedelta

from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connectapp.connections import services, tasks
from connectapp.connections.models import (
    AnnouncedEvent,
    ConnectionEvent,
    DeliveryAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from connectapp.connections.services import webhooks as services_webhooks
from tests.factories import LinkedAccountFactory

Kind = ConnectionEvent.Kind
Outcome = ConnectionEvent.Outcome


def event(link, age: timedelta, kind=Kind.REFRESHED, outcome=Outcome.OK, detail="") -> int:
    created = ConnectionEvent.objects.create(
        account=link, kind=kind, outcome=outcome, detail=detail, actor="worker"
    )
    ConnectionEvent.objects.filter(pk=created.pk).update(created_at=timezone.now() - age)
    return created.pk


def test_routine_refreshes_past_the_retention_are_pruned_and_every_state_change_is_kept(
    db, settings
):
    settings.CONNECTAPP_EVENT_RETENTION_DAYS = 90
    link = LinkedAccountFactory()
    old = timedelta(days=91)
    pruned = [event(link, old + timedelta(hours=n)) for n in range(5)]
    kept = [
        event(link, timedelta(days=89)),
        event(link, old, Kind.CONNECTED),
        event(link, old, Kind.NEEDS_RECONNECT, Outcome.FAILED, "invalid_grant"),
        event(link, old, Kind.REFRESHED, Outcome.TRANSIENT, "Pinterest answered HTTP 503"),
        event(link, old, Kind.REFRESHED, detail=services.RESCUED),
        event(link, old, Kind.DISCONNECTED),
        event(link, old, Kind.VERIFIED),
    ]

    assert tasks.prune_events() == 5

    remaining = set(ConnectionEvent.objects.values_list("pk", flat=True))
    assert remaining == set(kept)
    assert not remaining & set(pruned)


def test_pruning_deletes_in_batches_of_one_statement_each(db):
    link = LinkedAccountFactory()
    for n in range(7):
        event(link, timedelta(days=100, hours=n))

    with CaptureQueriesContext(connection) as queries:
        assert services.prune_routine_events(timedelta(days=90), batch_size=3) == 7

    deletes = [query["sql"] for query in queries if query["sql"].startswith("DELETE")]
    assert len(queries) == len(deletes) == 3  # 3 + 3 + 1: the last short batch ends it
    assert all("LIMIT 3" in sql for sql in deletes)
    assert not ConnectionEvent.objects.exists()


def test_the_batch_finds_its_rows_by_the_routine_events_index(db):
    expired = ConnectionEvent.objects.routine().filter(created_at__lt=timezone.now())
    batch = expired.order_by("created_at").values("pk")[:1000]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = batch.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "event_routine_time_idx" in plan


def test_pruning_runs_on_the_schedule():
    schedule = django_settings.CELERY_BEAT_SCHEDULE["prune-events"]

    assert schedule["task"] == tasks.prune_events.name
    assert schedule["schedule"] <= 24 * 60 * 60


Delivery = WebhookDelivery.Status


def announced(age: timedelta, *deliveries: str, dispatched: bool = True) -> int:
    """Return the id of an announced event `age` old, fanned out (or not) into one delivery
    per status in `deliveries`, each with one attempt."""
    created = AnnouncedEvent.objects.create(type="link.refreshed", payload={"link": 1})
    when = timezone.now() - age
    AnnouncedEvent.objects.filter(pk=created.pk).update(
        created_at=when, dispatched_at=when if dispatched else None
    )
    for status in deliveries:
        endpoint, _ = services_webhooks.create_endpoint("https://hooks.example.com/in")
        delivery = WebhookDelivery.objects.create(event=created, endpoint=endpoint, status=status)
        DeliveryAttempt.objects.create(delivery=delivery, status_code=200)
    return created.pk


def test_announced_events_whose_messages_ended_are_pruned_with_their_deliveries(db, settings):
    settings.CONNECTAPP_WEBHOOK_RETENTION_DAYS = 30
    old = timedelta(days=31)
    pruned = [
        announced(old),
        announced(old, Delivery.DELIVERED),
        announced(old, Delivery.DELIVERED, Delivery.FAILED),
    ]
    kept = [
        announced(timedelta(days=29), Delivery.DELIVERED),
        announced(old, Delivery.DELIVERED, Delivery.PENDING),
        announced(old, dispatched=False),
    ]

    assert tasks.prune_events() == len(pruned)

    assert set(AnnouncedEvent.objects.values_list("pk", flat=True)) == set(kept)
    assert set(WebhookDelivery.objects.values_list("event", flat=True)) == set(kept[:2])
    assert DeliveryAttempt.objects.count() == 3
    assert WebhookEndpoint.objects.count() == 6  # the endpoints themselves stay


def test_announced_events_are_pruned_in_batches_of_a_fixed_number_of_statements(db):
    for n in range(7):
        announced(timedelta(days=40, hours=n), Delivery.DELIVERED)

    with CaptureQueriesContext(connection) as queries:
        assert services.prune_announced_events(timedelta(days=30), batch_size=3) == 7

    batches = [
        query["sql"]
        for query in queries
        if query["sql"].startswith('DELETE FROM "connections_announcedevent"')
    ]
    assert len(batches) == 3
    # Each batch: read the batch, its deliveries, then delete attempts, deliveries, events.
    assert len(queries) == 3 * 5
    assert not WebhookDelivery.objects.exists()
    assert not DeliveryAttempt.objects.exists()
