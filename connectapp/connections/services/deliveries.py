"""One attempt of a webhook delivery: sign it, send it, record it, and decide what comes next.

`attempt` takes the delivery's row lock to claim it (one attempt in flight per delivery, at most
`CONNECTAPP_WEBHOOK_ENDPOINT_CONCURRENCY` per endpoint), sends outside any transaction through
the guarded transport (`infra.webhook_http`), then records the answer: delivered, a retry on the
schedule (or the receiver's `Retry-After`), or failed for good. An endpoint that has failed for
`CONNECTAPP_WEBHOOK_DISABLE_AFTER` is disabled and the admins are told. Signing is the
`standardwebhooks` library's.
"""

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from connectapp import conf

from ..infra import webhook_http
from ..models import AnnouncedEvent, DeliveryAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

Delivery = WebhookDelivery.Status
#: An attempt started longer ago than the deadline plus this was lost with its worker.
IN_FLIGHT_GRACE = 5.0


@dataclass(frozen=True)
class Outcome:
    """What an attempt came to, and when the task should try again (None: not from here)."""

    name: str
    retry_in: float | None = None


def in_flight_window() -> timedelta:
    """Return how long an attempt may be in flight before it counts as lost with its worker."""
    return timedelta(seconds=conf.value("WEBHOOK_TIMEOUT") * 2 + IN_FLIGHT_GRACE)


def attempt(delivery_id: int, *, force: bool = False) -> Outcome:
    """Make one attempt of a delivery when it is due; return what came of it.

    `delivered`, `failed` (retries exhausted), `retrying` or `waiting` (retry_in says when),
    and without an attempt `done`, `gone`, `disabled`, `early` or `busy`. `force` sends even
    to an inactive endpoint (an operator's test or "send again").
    """
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint", "event")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return Outcome("gone")
        if delivery.status != Delivery.PENDING:
            return Outcome("done")
        endpoint = delivery.endpoint
        if not (endpoint.is_active or force):
            return Outcome("disabled")
        if delivery.next_attempt_at > now + timedelta(seconds=1):
            return Outcome("early")  # a stale duplicate: the delivery's own message comes later
        stale = now - in_flight_window()
        if delivery.attempt_started_at and delivery.attempt_started_at > stale:
            # Another worker is on it, or was until it died: look again once that is clear.
            wait = (delivery.attempt_started_at - stale).total_seconds() + 1
            return _requeue(delivery, "busy", wait)
        in_flight = (
            WebhookDelivery.objects.filter(endpoint=endpoint, attempt_started_at__gt=stale)
            .exclude(pk=delivery.pk)
            .count()
        )
        if in_flight >= conf.value("WEBHOOK_ENDPOINT_CONCURRENCY"):
            return _requeue(delivery, "busy", random.uniform(0.5, 2.0))
        delivery.attempt_started_at = now
        delivery.save(update_fields=["attempt_started_at"])
    started = time.monotonic()
    answer = webhook_http.post(endpoint.url, *signed_request(endpoint, delivery.event))
    duration_ms = int((time.monotonic() - started) * 1000)
    return _record(delivery.pk, answer, duration_ms)


def body(event: AnnouncedEvent) -> dict[str, Any]:
    """Return the webhook body of an event: `{"id", "type", "timestamp", "data"}`."""
    return {
        "id": event.event_id,
        "type": event.type,
        "timestamp": event.created_at.isoformat(),
        "data": event.payload,
    }


def signed_request(endpoint: WebhookEndpoint, event: AnnouncedEvent) -> tuple[bytes, dict]:
    """Return the body and headers of a delivery, signed with the endpoint's secret."""
    body_text = json.dumps(body(event), separators=(",", ":"), sort_keys=True)
    sent_at = timezone.now()
    signature = Webhook(endpoint.secret).sign(event.event_id, sent_at, body_text)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": conf.value("USER_AGENT"),
        "webhook-id": event.event_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }
    return body_text.encode(), headers


def retry_delay(attempts_made: int, retry_after: float | None) -> float | None:
    """Return the pause before the next attempt after `attempts_made` failed ones, or None
    when the schedule is exhausted: the schedule's step with +-10% jitter, or the receiver's
    `Retry-After` when that is longer."""
    schedule = conf.value("WEBHOOK_RETRY_SCHEDULE_SECONDS")
    if attempts_made > len(schedule):
        return None
    delay = schedule[attempts_made - 1] * random.uniform(0.9, 1.1)
    return max(delay, retry_after or 0.0)


def _requeue(delivery: WebhookDelivery, name: str, wait: float) -> Outcome:
    delivery.queued_at = timezone.now()
    delivery.save(update_fields=["queued_at"])
    return Outcome(name, retry_in=wait)


def _record(delivery_id: int, answer: webhook_http.Answer, duration_ms: int) -> Outcome:
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            status_code=answer.status_code,
            duration_ms=duration_ms,
            response_excerpt=answer.excerpt,
            error=answer.error[:500],
        )
        delivery.attempt_count += 1
        delivery.attempt_started_at = None
        delivery.last_status_code = answer.status_code
        if answer.ok:
            delivery.status = Delivery.DELIVERED
            delivery.delivered_at = now
            delivery.save()
            # No lock on the endpoint for a success: deliveries to it run side by side.
            WebhookEndpoint.objects.filter(
                pk=delivery.endpoint_id, failing_since__isnull=False
            ).update(failing_since=None)
            return Outcome("delivered")
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        _note_failure(endpoint, now)
        delay = retry_delay(delivery.attempt_count, answer.retry_after)
        if delay is None:
            delivery.status = Delivery.FAILED
            delivery.save()
            logger.warning("webhook delivery %s failed for good", delivery.pk)
            return Outcome("failed")
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        if delay <= conf.value("WEBHOOK_MAX_COUNTDOWN"):
            delivery.queued_at = now
            delivery.save()
            return Outcome("retrying", retry_in=delay)
        delivery.queued_at = None  # too far off for the broker: the sweep publishes it
        delivery.save()
        return Outcome("waiting")


def _note_failure(endpoint: WebhookEndpoint, now: datetime) -> None:
    """Within the caller's lock: start or extend the endpoint's run of failures, and disable
    it when the run has lasted `CONNECTAPP_WEBHOOK_DISABLE_AFTER`."""
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since"])
        return
    if endpoint.is_active and now - endpoint.failing_since >= conf.value(
        "WEBHOOK_DISABLE_AFTER_SECONDS"
    ):
        endpoint.is_active = False
        endpoint.disabled_at = now
        endpoint.save(update_fields=["is_active", "disabled_at"])
        transaction.on_commit(partial(_tell_admins, endpoint))
        logger.warning(
            "webhook endpoint %s disabled after failing since %s",
            endpoint.pk,
            endpoint.failing_since,
        )


def admin_addresses() -> set[str]:
    """Return the addresses in `ADMINS`: plain strings since Django 6.0, which deprecates
    the `(name, address)` pairs that Django 5.2 expects (both are read)."""
    return {
        str(entry[1] if isinstance(entry, list | tuple) else entry)
        for entry in getattr(settings, "ADMINS", [])
    }


def _tell_admins(endpoint: WebhookEndpoint) -> None:
    """Mail the site's admins (`ADMINS` and active superusers); a mail failure is logged."""
    recipients = admin_addresses()
    recipients.update(
        get_user_model()
        .objects.filter(is_superuser=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return
    try:
        send_mail(
            subject=f"Webhook endpoint {endpoint.pk} disabled",
            message=(
                f"The webhook endpoint {endpoint.url} has failed every delivery since "
                f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC and was disabled. Its events wait; "
                "enable it again in the admin (or fix the receiver first) and they are delivered."
            ),
            from_email=None,
            recipient_list=sorted(recipients),
        )
    except Exception:
        logger.exception(
            "webhook endpoint %s: could not tell the admins it was disabled", endpoint.pk
        )
