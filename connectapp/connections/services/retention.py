"""Keeping history bounded: every change of a link's state stays; routine refreshes, one a
day or more per link, stay only for `CONNECTAPP_EVENT_RETENTION_DAYS`; an announced event and
its webhook deliveries stay for `CONNECTAPP_WEBHOOK_RETENTION_DAYS` once they have ended."""

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from ..models import AnnouncedEvent, ConnectionEvent, WebhookDelivery

#: Rows deleted per statement: each DELETE is its own short transaction holding row locks
#: only, so pruning never blocks the refreshes recording new events.
PRUNE_BATCH_SIZE = 1000


def prune_routine_events(older_than: timedelta, *, batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Delete the routine events (see `models.ROUTINE`) older than `older_than`, a batch at a
    time, oldest first; return how many were deleted.

    Each batch is one `DELETE … WHERE id IN (SELECT id … ORDER BY created_at LIMIT n)`, its
    subquery served by the partial index `event_routine_time_idx`, which holds nothing else.
    """
    cutoff = timezone.now() - older_than
    expired = ConnectionEvent.objects.routine().filter(created_at__lt=cutoff)
    return _delete_in_batches(expired.order_by("created_at"), batch_size)


def prune_announced_events(older_than: timedelta, *, batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Delete the announced events older than `older_than` whose webhook messages have ended,
    with their deliveries and attempts, a batch at a time, oldest first; return how many
    announced events were deleted.

    An event has ended when it was fanned out and none of its deliveries waits for an attempt
    (each was delivered, or failed after its last retry). An event never fanned out, or with a
    delivery still pending, stays whatever its age: the sweep still owes it a message. Each
    batch is one transaction; the oldest rows have the lowest ids, so the batch is read off the
    primary key and stops at the first `batch_size` that qualify.
    """
    cutoff = timezone.now() - older_than
    ended = AnnouncedEvent.objects.filter(
        created_at__lt=cutoff, dispatched_at__isnull=False
    ).exclude(deliveries__status=WebhookDelivery.Status.PENDING)
    return _delete_in_batches(ended.order_by("pk"), batch_size)


def _delete_in_batches(rows: QuerySet, batch_size: int) -> int:
    """Delete `rows` (ordered, the first first) `batch_size` at a time, each batch a `DELETE`
    of the first rows left, with whatever cascades from them; return how many of `rows` went."""
    model = rows.model
    deleted = 0
    while True:
        batch = rows.values("pk")[:batch_size]
        _, per_model = model.objects.filter(pk__in=batch).delete()
        count = per_model.get(model._meta.label, 0)
        deleted += count
        if count < batch_size:
            return deleted
