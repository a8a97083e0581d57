"""The history of a link: every service records what it did, and how it went, here."""

import logging

from django.db import transaction

from .. import notifications
from ..models import ConnectionEvent, LinkedAccount

logger = logging.getLogger(__name__)

Kind = ConnectionEvent.Kind
Outcome = ConnectionEvent.Outcome


def record_event(
    link: LinkedAccount, kind: str, *, actor: str, outcome: str = Outcome.OK, detail: str = ""
) -> ConnectionEvent:
    """Return the new event of the link; `detail` is cut to what an admin page shows."""
    return ConnectionEvent.objects.create(
        account=link, kind=kind, outcome=outcome, detail=detail[:2000], actor=actor
    )


def needs_reconnect(
    link: LinkedAccount, reason: str, *, actor: str, outcome: str = Outcome.FAILED
) -> None:
    """Mark the link as waiting for a reconnect, record it, and tell its owner once committed.

    Within the caller's transaction and lock. `outcome` is FAILED when a provider said no.
    """
    link.mark_needs_reconnect(reason)
    record_event(link, Kind.NEEDS_RECONNECT, actor=actor, outcome=outcome, detail=reason)
    transaction.on_commit(lambda: notifications.needs_reconnect(link))
    logger.warning("link %s needs reconnect: %s", link.pk, reason)
