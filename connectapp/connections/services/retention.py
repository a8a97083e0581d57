"""Keeping a link's history bounded: every change of state stays; routine refreshes, one a
day or more per link, stay only for `CONNECTAPP_EVENT_RETENTION_DAYS`."""

from datetime import timedelta

from django.utils import timezone

from ..models import ConnectionEvent

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
    deleted = 0
    while True:
        batch = expired.order_by("created_at").values("pk")[:batch_size]
        count, _ = ConnectionEvent.objects.filter(pk__in=batch).delete()
        deleted += count
        if count < batch_size:
            return deleted
