"""The periodic refresh sweep: claim the links due, a batch at a time, and refresh each once."""

from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectapp.exceptions import ProviderUnavailable

from ..models import RefreshSchedule
from .refresh import RefreshOutcome, refresh


def refresh_queued(link_id: int) -> RefreshOutcome:
    """A worker's `refresh` of a link the sweep queued; return its outcome.

    A refresh's own save clears the queued marker; any other outcome clears it here, so the
    sweep may queue the link again when it is due again. An outage renews it instead: the
    task's retry is still coming, and the sweep must not queue a second one meanwhile.
    """
    try:
        outcome = refresh(link_id)
    except ProviderUnavailable:
        RefreshSchedule.objects.filter(pk=link_id).update(queued_at=timezone.now())
        raise
    if outcome != RefreshOutcome.REFRESHED:
        RefreshSchedule.objects.filter(pk=link_id, queued_at__isnull=False).update(queued_at=None)
    return outcome


def claim_due_refreshes(
    provider_name: str, window: timedelta, *, batch_size: int, limit: int | None = None
) -> Iterator[list[int]]:
    """Mark the provider's links due for a refresh as queued, a batch at a time, soonest expiry
    first; yield each batch's ids once its marks are committed, for the caller to enqueue.

    Each batch is one indexed query of the narrow `RefreshSchedule` (its partial index holds
    only unqueued active links, so links already queued cost nothing; `due_at` is what
    `LinkedAccount.objects.due` reads) and one UPDATE; `SKIP LOCKED` lets two sweeps, or a
    sweep and a refresh in progress, pass each other. A link stays marked until its refresh
    ends. A mark older than `CONNECTAPP_REFRESH_LEASE` belongs to a message that was lost (a
    crash between this commit and the enqueue, a purged broker): it is released first, so
    the link is queued again.
    """
    now = timezone.now()
    RefreshSchedule.objects.filter(
        provider=provider_name, queued_at__lt=now - settings.CONNECTAPP_REFRESH_LEASE
    ).update(queued_at=None)
    due = RefreshSchedule.objects.filter(
        provider=provider_name, due_at__lte=now + window, queued_at__isnull=True
    ).order_by("due_at")
    claimed = 0
    while limit is None or claimed < limit:
        size = batch_size if limit is None else min(batch_size, limit - claimed)
        with transaction.atomic():
            ids = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:size])
            if not ids:
                return
            RefreshSchedule.objects.filter(pk__in=ids).update(queued_at=now)
        claimed += len(ids)
        yield ids
