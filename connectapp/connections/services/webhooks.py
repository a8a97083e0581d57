"""Webhook endpoints and the delivery of events to them (Standard Webhooks).

Tasks, admin and the `webhooks` command call it. An event row is fanned out into one
`WebhookDelivery` per subscribed endpoint by `dispatch`; `publish` asks the workers to attempt
deliveries, and `run` makes one attempt (`deliveries.attempt`) and publishes the next;
`sweep` finds what a lost message left behind. The HTTP transport, with its guard against
private addresses, is `infra.webhook_http`.
"""

import base64
import logging
import secrets
from functools import partial

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from connectapp import conf
from connectapp.exceptions import InvalidEndpoint

from ..infra.webhook_http import check_url
from ..models import (
    RECEIVING,
    UNDISPATCHED,
    AnnouncedEvent,
    WebhookDelivery,
    WebhookEndpoint,
)
from . import events as link_events
from .deliveries import Outcome, attempt, in_flight_window

logger = logging.getLogger(__name__)

Delivery = WebhookDelivery.Status


# --- Endpoints ----------------------------------------------------------------------------


def new_secret() -> str:
    """Return a new signing secret in the Standard Webhooks form `whsec_<base64>`."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_events(events: list[str]) -> list[str]:
    """Return the event types when each is known; raise `InvalidEndpoint` otherwise."""
    unknown = sorted(set(events) - set(link_events.EVENT_TYPES))
    if unknown:
        raise InvalidEndpoint(f"unknown event types: {', '.join(unknown)}")
    return list(events)


def create_endpoint(
    url: str, events: list[str] | None = None, *, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Return a new endpoint and its signing secret, which is shown once and stored encrypted."""
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        url=check_url(url),
        events=check_events(events or []),
        description=description,
        secret=secret,
    )
    return endpoint, secret


def enable_endpoint(endpoint_id: int) -> int:
    """Turn an endpoint on again and deliver what waited; return how many deliveries waited."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        endpoint.is_active = True
        endpoint.disabled_at = None
        endpoint.failing_since = None
        endpoint.save(update_fields=["is_active", "disabled_at", "failing_since"])
        waiting = list(
            endpoint.deliveries.filter(status=Delivery.PENDING).values_list("pk", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=waiting).update(
            next_attempt_at=timezone.now(), queued_at=timezone.now()
        )
        transaction.on_commit(partial(publish, waiting))
    return len(waiting)


# --- Fan-out ------------------------------------------------------------------------------


def dispatch(event_pk: int) -> list[int]:
    """Make one delivery of an event per endpoint that wants it (a disabled endpoint's wait
    for it to be re-enabled); return the ids of the new deliveries, already published after
    the commit. Running it again for the same event changes nothing."""
    with transaction.atomic():
        event = AnnouncedEvent.objects.select_for_update().filter(pk=event_pk).first()
        if event is None or event.dispatched_at is not None:
            return []
        event.payload = link_events.complete_user(event.payload)
        event.dispatched_at = timezone.now()
        event.save(update_fields=["payload", "dispatched_at"])
        endpoints = WebhookEndpoint.objects.defer("secret").filter(RECEIVING)
        now = timezone.now()
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=now, queued_at=now)
                for endpoint in endpoints
                if endpoint.wants(event.type)
            ]
        )
        ready = [d.pk for d in deliveries if d.endpoint.is_active]
        transaction.on_commit(partial(publish, ready))
    return ready


def send_test(endpoint_id: int, *, actor: str, queue: bool = True) -> WebhookDelivery:
    """Send a `webhook.test` event to one endpoint (active or not); return its delivery.

    With `queue=False` no worker is asked: the caller attempts it with `run`."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        event = AnnouncedEvent.objects.create(
            type=link_events.WEBHOOK_TEST,
            payload={"link": None, "actor": actor},
            dispatched_at=timezone.now(),
        )
        delivery = WebhookDelivery.objects.create(
            event=event, endpoint=endpoint, queued_at=timezone.now()
        )
        if queue:
            transaction.on_commit(partial(publish, [delivery.pk], force=True))
    return delivery


def redeliver(delivery_id: int, *, queue: bool = True) -> WebhookDelivery:
    """Send a delivery again, with the same `webhook-id`, whatever became of it; return it.

    With `queue=False` no worker is asked: the caller attempts it with `run`."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        delivery.status = Delivery.PENDING
        delivery.next_attempt_at = delivery.queued_at = timezone.now()
        delivery.save(update_fields=["status", "next_attempt_at", "queued_at"])
        if queue:
            transaction.on_commit(partial(publish, [delivery.pk], force=True))
    return delivery


def publish(delivery_ids: list[int], *, force: bool = False, countdown: float = 0) -> None:
    """Ask workers to attempt these deliveries, over one broker connection; a broker failure
    is logged (each delivery's `queued_at` lets the sweep publish it again)."""
    from ..tasks import deliver_webhook

    try:
        with deliver_webhook.app.producer_or_acquire() as producer:
            for delivery_id in delivery_ids:
                deliver_webhook.apply_async(
                    (delivery_id,),
                    {"force": force},
                    countdown=countdown,
                    producer=producer,
                )
    except Exception:  # noqa: BLE001 - the deliveries are safe in the database
        logger.warning("could not publish %d webhook deliveries; the sweep will", len(delivery_ids))


def run(delivery_id: int, *, force: bool = False) -> Outcome:
    """Attempt a delivery and publish its next attempt when one is due soon; return the
    outcome. What the delivery task and the `webhooks test|redeliver` command do."""
    outcome = attempt(delivery_id, force=force)
    if outcome.retry_in is not None:
        publish([delivery_id], force=force, countdown=outcome.retry_in)
    return outcome


# --- The sweep ----------------------------------------------------------------------------


def sweep(*, batch_size: int = 1000) -> tuple[int, int]:
    """Publish again what a lost message left behind; return (events, deliveries) published.

    Events not fanned out within the lease are dispatched; pending deliveries of active
    endpoints that are due, and whose message was published longer ago than the lease (or
    never: a retry too far off for the broker) and whose attempt is not in flight, are
    published again.
    """

    now = timezone.now()
    lease = now - conf.value("WEBHOOK_LEASE_SECONDS")
    event_ids = list(
        AnnouncedEvent.objects.filter(UNDISPATCHED, created_at__lt=lease)
        .order_by("created_at")
        .values_list("pk", flat=True)[:batch_size]
    )
    for event_pk in event_ids:
        link_events.publish(event_pk)
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Delivery.PENDING, endpoint__is_active=True, next_attempt_at__lte=now)
            .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=lease))
            .filter(
                Q(attempt_started_at__isnull=True)
                | Q(attempt_started_at__lt=now - in_flight_window())
            )
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        WebhookDelivery.objects.filter(pk__in=due).update(queued_at=now)
        transaction.on_commit(partial(publish, due))
    return len(event_ids), len(due)
