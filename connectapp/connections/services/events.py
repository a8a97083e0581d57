"""The history of a link and its announcement: every service records what it did, and how it
went, with `record_event`; one event vocabulary serves signals, webhooks and the admin history.

`record_event` below writes, inside the state change's transaction, the history entry and one
outbox row (`AnnouncedEvent`) announcing it, and nothing else, so the event exists exactly
when the change does; after the commit it sends the Django signals and publishes the Celery
task that fans the row out to the webhook endpoints, when any endpoint wants the event (on
PostgreSQL one no endpoint wants is saved as dispatched, and no worker is asked). A lost
publish is found by the sweep.

How the history's kinds and outcomes map to event types (user links / app-level links):

| `ConnectionEvent`                          | user link              | app-level link       |
|--------------------------------------------|------------------------|----------------------|
| connected, ok                              | `link.connected`       | `app_token.obtained` |
| reconnected, ok                            | `link.reconnected`     | `app_token.obtained` |
| refreshed or verified, ok, the link was    | `link.recovered`       | `app_token.obtained` |
| loaded needing reconnect or in error and   |                        |                      |
| is active now                              |                        |                      |
| refreshed, ok (otherwise)                  | `link.refreshed`       | `app_token.obtained` |
| verified, ok (otherwise)                   | `link.verified`        | `app_token.obtained` |
| needs_reconnect (any outcome)              | `link.needs_reconnect` | `app_token.failed`   |
| error, or any kind with outcome transient  | `link.error`           | `app_token.failed`   |
| disconnected                               | `link.disconnected`    | `link.disconnected`  |

"Loaded" is the status the link had when it was read from the database in this process (see
`_remember_loaded_status`), so no extra query is made to know the previous state.
"""

import logging
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_init
from django.dispatch import receiver
from django.utils import timezone

from connectapp.redaction import provider_text

from .. import notifications, signals, statements
from ..infra import broker
from ..models import AnnouncedEvent, ConnectionEvent, LinkedAccount

logger = logging.getLogger(__name__)

Kind = ConnectionEvent.Kind
Outcome = ConnectionEvent.Outcome
Status = LinkedAccount.Status

LINK_CONNECTED = "link.connected"
LINK_RECONNECTED = "link.reconnected"
LINK_REFRESHED = "link.refreshed"
LINK_VERIFIED = "link.verified"
LINK_NEEDS_RECONNECT = "link.needs_reconnect"
LINK_RECOVERED = "link.recovered"
LINK_ERROR = "link.error"
LINK_DISCONNECTED = "link.disconnected"
APP_TOKEN_OBTAINED = "app_token.obtained"
APP_TOKEN_FAILED = "app_token.failed"

#: Every event type, in the order the README lists them.
EVENT_TYPES = (
    LINK_CONNECTED,
    LINK_RECONNECTED,
    LINK_REFRESHED,
    LINK_VERIFIED,
    LINK_NEEDS_RECONNECT,
    LINK_RECOVERED,
    LINK_ERROR,
    LINK_DISCONNECTED,
    APP_TOKEN_OBTAINED,
    APP_TOKEN_FAILED,
)
#: Sent only to the one endpoint an operator tests; no endpoint subscribes to it.
WEBHOOK_TEST = "webhook.test"

_OK_TYPES = {
    Kind.CONNECTED: LINK_CONNECTED,
    Kind.RECONNECTED: LINK_RECONNECTED,
    Kind.REFRESHED: LINK_REFRESHED,
    Kind.VERIFIED: LINK_VERIFIED,
}
_BROKEN = (Status.NEEDS_RECONNECT, Status.ERROR)


@receiver(post_init, sender=LinkedAccount, dispatch_uid="connectapp.remember_loaded_status")
def _remember_loaded_status(sender, instance: LinkedAccount, **kwargs) -> None:
    """Keep the status a link was read with, so `event_type` can tell a recovery from a refresh."""
    instance._loaded_status = instance.__dict__.get("status")


def event_type(account: LinkedAccount, kind: str, outcome: str) -> str:
    """Return the event type a history entry announces (see the table in this module)."""
    if kind == Kind.DISCONNECTED:
        return LINK_DISCONNECTED
    failed = outcome == Outcome.TRANSIENT or kind in (Kind.NEEDS_RECONNECT, Kind.ERROR)
    if account.is_app_level:
        return APP_TOKEN_FAILED if failed else APP_TOKEN_OBTAINED
    if kind == Kind.NEEDS_RECONNECT:
        return LINK_NEEDS_RECONNECT
    if failed or outcome == Outcome.FAILED:
        return LINK_ERROR
    recovered = (
        kind in (Kind.REFRESHED, Kind.VERIFIED)
        and getattr(account, "_loaded_status", None) in _BROKEN
        and account.status == Status.ACTIVE
    )
    return LINK_RECOVERED if recovered else _OK_TYPES[kind]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def link_data(account: LinkedAccount) -> dict[str, Any]:
    """Return what an event says about a link: never a token, secret, code or verifier.

    The local user's username is filled in by `complete_user` (outside the transaction), so
    announcing costs the state change one INSERT and no read.
    """
    user = None
    if account.user_id is not None:
        user = {"id": account.user_id}
        if LinkedAccount.user.is_cached(account):
            user["username"] = account.user.get_username()
    return {
        "id": account.pk,
        "provider": account.provider,
        "external_id": account.external_id,
        "username": account.username,
        "status": account.status,
        "user": user,
        "scopes": list(account.scopes or []),
        "expires_at": _iso(account.expires_at),
        "refresh_expires_at": _iso(account.refresh_expires_at),
        "last_refreshed_at": _iso(account.last_refreshed_at),
        "last_verified_at": _iso(account.last_verified_at),
    }


def complete_user(data: dict[str, Any]) -> dict[str, Any]:
    """Return `data` with the link's local user's username filled in where it is missing."""
    user = (data.get("link") or {}).get("user")
    if user is not None and "username" not in user:
        found = get_user_model().objects.filter(pk=user["id"]).first()
        user["username"] = found.get_username() if found is not None else None
    return data


def _after_commit(event: AnnouncedEvent) -> None:
    send_signals(event)
    if event.dispatched_at is None:  # some webhook endpoint wants it
        publish(event.pk)


def send_signals(event: AnnouncedEvent) -> None:
    """Send `signals.link_event` and the type's own signal; a receiver that raises is logged
    and never breaks the operation that announced the event."""
    data = complete_user(event.payload)
    arguments = {
        "event_id": event.event_id,
        "type": event.type,
        "timestamp": event.created_at,
        "link": data["link"],
        "actor": data["actor"],
    }
    for signal in (signals.link_event, signals.BY_TYPE[event.type]):
        for receiver_function, result in signal.send_robust(sender=LinkedAccount, **arguments):
            if isinstance(result, Exception):
                logger.error(
                    "event %s: signal receiver %r raised",
                    event.event_id,
                    getattr(receiver_function, "__qualname__", receiver_function),
                    exc_info=result,
                )


def publish(event_pk: int) -> None:
    """Ask a worker to fan an event out; a broker failure is logged (the sweep catches up)."""
    from ..tasks import dispatch_event

    try:
        # Where the Celery app's routes send the task, as `delay` would, for a tenth of its
        # work (`infra.broker` keeps the message template per process).
        broker.publish_each(dispatch_event, [event_pk])
    except Exception:  # noqa: BLE001 - the event is safe in the outbox; the sweep sends it
        logger.warning("event row %s: could not publish its fan-out; the sweep will", event_pk)


def record_event(
    link: LinkedAccount,
    kind: str,
    *,
    actor: str,
    outcome: str = Outcome.OK,
    detail: str = "",
    saving: Sequence[str] = (),
) -> ConnectionEvent:
    """Return the new history entry of the link, announced in the same transaction: its
    outbox row is written with it, and the signals and the fan-out to webhook endpoints follow
    the commit. `saving` names fields of the link to save first: on PostgreSQL the link's
    UPDATE and both INSERTs are one statement (`statements.write_and_record`; no `save`
    signals). `detail`, which may quote a provider, is kept as `provider_text` leaves it."""
    history = ConnectionEvent(
        account=link, kind=kind, outcome=outcome, detail=provider_text(detail), actor=actor
    )
    event = AnnouncedEvent(
        type=event_type(link, kind, outcome),
        payload={"link": link_data(link), "actor": actor},
        account=link,
        created_at=timezone.now(),
    )
    with transaction.atomic(savepoint=False):
        statements.write_and_record(link, saving, history, event)
    transaction.on_commit(partial(_after_commit, event), robust=True)
    return history


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


def mark_error(link: LinkedAccount, reason: str, *, actor: str) -> None:
    """Mark the link as in error and record it (announced as `link.error`).

    Within the caller's transaction and lock.
    """
    link.mark_error(reason)
    record_event(link, Kind.ERROR, actor=actor, outcome=Outcome.FAILED, detail=reason)
    logger.warning("link %s in error: %s", link.pk, reason)
