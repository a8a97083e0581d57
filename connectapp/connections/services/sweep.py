"""The periodic refresh sweep: claim the links due, a batch at a time, and refresh each once."""

from collections.abc import Iterator
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from connectapp import conf
from connectapp.exceptions import ProviderUnavailable

from .. import messages, statements
from ..models import RENEWABLE_SCHEDULE, SECRET_FIELDS, LinkedAccount, RefreshSchedule
from .events import Kind, Outcome, record_event
from .refresh import RefreshOutcome, refresh


def refresh_queued(link_id: int, *, last_attempt: bool = False) -> RefreshOutcome:
    """A worker's `refresh` of a link the sweep queued; return its outcome.

    A refresh's own save clears the queued marker; any other outcome clears it here, so the
    sweep may queue the link again when it is due again. An outage renews it instead: the
    task's retry is still coming, and the sweep must not queue a second one meanwhile; on the
    `last_attempt` no retry is coming, and the marker is cleared. A refresh that breaks for any
    other reason is recorded (the event says what broke, never a value) and clears it too.
    """
    try:
        outcome = refresh(link_id)
    except ProviderUnavailable:
        still_queued = None if last_attempt else timezone.now()
        RefreshSchedule.objects.filter(pk=link_id).update(queued_at=still_queued)
        raise
    except Exception as problem:
        _record_breakage(link_id, problem)
        raise
    if outcome != RefreshOutcome.REFRESHED:
        RefreshSchedule.objects.filter(pk=link_id, queued_at__isnull=False).update(queued_at=None)
    return outcome


def _record_breakage(link_id: int, problem: Exception) -> None:
    """Clear the queued marker of a link whose refresh broke, and record that it did."""
    with transaction.atomic():
        link = LinkedAccount.objects.locked().defer(*SECRET_FIELDS).filter(pk=link_id).first()
        if link is None:
            return
        RefreshSchedule.objects.filter(pk=link_id).update(queued_at=None)
        reason = messages.REFRESH_BROKE.format(kind=type(problem).__name__)
        record_event(link, Kind.REFRESHED, actor="worker", outcome=Outcome.TRANSIENT, detail=reason)


def claim_due_refreshes(
    provider_name: str, window: timedelta, *, batch_size: int, limit: int | None = None
) -> Iterator[list[int]]:
    """Mark the provider's links due for a refresh as queued, a batch at a time, soonest expiry
    first; yield each batch's ids once its marks are committed, for the caller to enqueue.

    Each batch is one UPDATE of the rows one indexed query of the narrow `RefreshSchedule` alone
    chooses (`statements.mark_queued`; its partial index holds only unqueued active links, so
    links already queued cost nothing, and ends at the window's end, so the links not due cost
    nothing either; `due_at` is what `LinkedAccount.objects.due` reads, and the schedule keeps
    the link's `renewable` too); `SKIP LOCKED` lets two sweeps, or a sweep and a refresh in
    progress, pass each other. A link stays marked until its refresh ends. A mark older than
    `CONNECTAPP_REFRESH_LEASE_SECONDS` belongs to a message that was lost (a crash between this
    commit and the enqueue, a purged broker): it is released first, so the link is queued again.
    """
    now = timezone.now()
    RefreshSchedule.objects.filter(
        provider=provider_name, queued_at__lt=now - conf.value("REFRESH_LEASE_SECONDS")
    ).update(queued_at=None)
    due = (
        RefreshSchedule.objects.filter(
            provider=provider_name, queued_at__isnull=True, due_at__lte=now + window
        )
        .filter(RENEWABLE_SCHEDULE | Q(due_at__lte=now))
        .order_by("due_at")
    )
    claimed = 0
    while limit is None or claimed < limit:
        size = batch_size if limit is None else min(batch_size, limit - claimed)
        with transaction.atomic():
            ids = statements.mark_queued(due, size, now)
            if not ids:
                return
        claimed += len(ids)
        yield ids
