"""Webhook endpoints and the delivery of events to them (Standard Webhooks).

Every write about webhooks is here; tasks, admin and the `webhooks` command call it. An event
row is fanned out into one `WebhookDelivery` per subscribed endpoint by `dispatch`; `attempt`
makes one signed HTTP request of a delivery and decides what comes next; `sweep` finds what a
lost message left behind. Signing is the `standardwebhooks` library's.

Every request has a deadline and a size cap, follows no redirect, goes only to `http(s)` URLs
and, unless `CONNECTAPP_WEBHOOK_ALLOW_PRIVATE`, never to a loopback, link-local or private
address: that is checked on the address the socket actually connected to, before anything is
sent, so a DNS answer that changes between a check and the connection cannot get past it.
"""

import base64
import ipaddress
import json
import logging
import random
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from requests.adapters import HTTPAdapter
from standardwebhooks import Webhook
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from connectapp.providers.http import retry_after_seconds

from ..models import AnnouncedEvent, DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from . import events as link_events

logger = logging.getLogger(__name__)

Delivery = WebhookDelivery.Status
EXCERPT_BYTES = 500
#: An attempt started longer ago than the deadline plus this was lost with its worker.
IN_FLIGHT_GRACE = 5.0


class InvalidEndpoint(ValueError):
    """A webhook URL or event list that connectapp will not use."""


class UnsafeDestination(ValueError):
    """The endpoint's address is one connectapp refuses to send to (SSRF guard)."""


# --- Endpoints ----------------------------------------------------------------------------


def new_secret() -> str:
    """Return a new signing secret in the Standard Webhooks form `whsec_<base64>`."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_url(url: str) -> str:
    """Return the URL when it is an absolute http(s) URL; raise `InvalidEndpoint` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidEndpoint(f"not an http(s) URL: {url!r}")
    if parts.username or parts.password:
        raise InvalidEndpoint("a webhook URL may not hold credentials")
    return url


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
        endpoints = WebhookEndpoint.objects.defer("secret").filter(
            Q(is_active=True) | Q(disabled_at__isnull=False)
        )
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
                    queue=settings.CONNECTAPP_WEBHOOK_QUEUE,
                )
    except Exception:  # noqa: BLE001 - the deliveries are safe in the database
        logger.warning("could not publish %d webhook deliveries; the sweep will", len(delivery_ids))


# --- One attempt --------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    excerpt: str
    error: str
    retry_after: float | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Outcome:
    """What an attempt came to, and when the task should try again (None: not from here)."""

    name: str
    retry_in: float | None = None


def _in_flight_window() -> timedelta:
    return timedelta(seconds=settings.CONNECTAPP_WEBHOOK_TIMEOUT * 2 + IN_FLIGHT_GRACE)


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
        stale = now - _in_flight_window()
        if delivery.attempt_started_at and delivery.attempt_started_at > stale:
            # Another worker is on it, or was until it died: look again once that is clear.
            wait = (delivery.attempt_started_at - stale).total_seconds() + 1
            return _requeue(delivery, "busy", wait)
        in_flight = (
            WebhookDelivery.objects.filter(endpoint=endpoint, attempt_started_at__gt=stale)
            .exclude(pk=delivery.pk)
            .count()
        )
        if in_flight >= settings.CONNECTAPP_WEBHOOK_ENDPOINT_CONCURRENCY:
            return _requeue(delivery, "busy", random.uniform(0.5, 2.0))
        delivery.attempt_started_at = now
        delivery.save(update_fields=["attempt_started_at"])
    started = time.monotonic()
    answer = post(endpoint, delivery.event)
    duration_ms = int((time.monotonic() - started) * 1000)
    return _record(delivery.pk, answer, duration_ms)


def run(delivery_id: int, *, force: bool = False) -> Outcome:
    """Attempt a delivery and publish its next attempt when one is due soon; return the
    outcome. What the delivery task and the `webhooks test|redeliver` command do."""
    outcome = attempt(delivery_id, force=force)
    if outcome.retry_in is not None:
        publish([delivery_id], force=force, countdown=outcome.retry_in)
    return outcome


def _requeue(delivery: WebhookDelivery, name: str, wait: float) -> Outcome:
    delivery.queued_at = timezone.now()
    delivery.save(update_fields=["queued_at"])
    return Outcome(name, retry_in=wait)


def retry_delay(attempts_made: int, retry_after: float | None) -> float | None:
    """Return the pause before the next attempt after `attempts_made` failed ones, or None
    when the schedule is exhausted: the schedule's step with +-10% jitter, or the receiver's
    `Retry-After` when that is longer."""
    schedule = settings.CONNECTAPP_WEBHOOK_RETRY_SCHEDULE
    if attempts_made > len(schedule):
        return None
    delay = schedule[attempts_made - 1] * random.uniform(0.9, 1.1)
    return max(delay, retry_after or 0.0)


def _record(delivery_id: int, answer: Answer, duration_ms: int) -> Outcome:
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
        if delay <= settings.CONNECTAPP_WEBHOOK_MAX_COUNTDOWN:
            delivery.queued_at = now
            delivery.save()
            return Outcome("retrying", retry_in=delay)
        delivery.queued_at = None  # too far off for the broker: the sweep publishes it
        delivery.save()
        return Outcome("waiting")


def _note_failure(endpoint: WebhookEndpoint, now) -> None:
    """Within the caller's lock: start or extend the endpoint's run of failures, and disable
    it when the run has lasted `CONNECTAPP_WEBHOOK_DISABLE_AFTER`."""
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since"])
        return
    if (
        endpoint.is_active
        and now - endpoint.failing_since >= settings.CONNECTAPP_WEBHOOK_DISABLE_AFTER
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


def _tell_admins(endpoint: WebhookEndpoint) -> None:
    """Mail the site's admins (`ADMINS` and active superusers); a mail failure is logged."""
    recipients = {email for _, email in getattr(settings, "ADMINS", [])}
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


# --- HTTP ---------------------------------------------------------------------------------


def _refuse_private(sock, host: str) -> None:
    """Close the socket unless its peer is an address we may send to."""
    if settings.CONNECTAPP_WEBHOOK_ALLOW_PRIVATE:
        return
    address = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        sock.close()
        raise UnsafeDestination(
            f"{host} resolves to {address}, a non-public address "
            "(set CONNECTAPP_WEBHOOK_ALLOW_PRIVATE to allow it)"
        )


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _refuse_private(sock, self.host)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _refuse_private(sock, self.host)
        return sock


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    """Checks the address each new connection reached before a byte is sent on it."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: the peer is the receiver
    session.mount("http://", _GuardedAdapter(max_retries=0))
    session.mount("https://", _GuardedAdapter(max_retries=0))
    return session


def signed_request(endpoint: WebhookEndpoint, event: AnnouncedEvent) -> tuple[bytes, dict]:
    """Return the body and headers of a delivery, signed with the endpoint's secret."""
    body = json.dumps(link_events.body(event), separators=(",", ":"), sort_keys=True)
    sent_at = timezone.now()
    signature = Webhook(endpoint.secret).sign(event.event_id, sent_at, body)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": settings.CONNECTAPP_USER_AGENT,
        "webhook-id": event.event_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }
    return body.encode(), headers


def post(endpoint: WebhookEndpoint, event: AnnouncedEvent) -> Answer:
    """Return what the endpoint answered to one signed POST of the event; never raises for
    anything the receiver or the network does."""
    try:
        check_url(endpoint.url)
    except InvalidEndpoint as problem:
        return Answer(None, "", str(problem), None)
    data, headers = signed_request(endpoint, event)
    timeout = settings.CONNECTAPP_WEBHOOK_TIMEOUT
    deadline = time.monotonic() + timeout
    try:
        with (
            _session() as session,
            session.post(
                endpoint.url,
                data=data,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            ) as response,
        ):
            received = _read_capped(response, deadline)
            excerpt = received[:EXCERPT_BYTES].decode("utf-8", "replace")
            error = ""
            if response.is_redirect:
                error = "answered with a redirect, which is not followed"
            elif not 200 <= response.status_code < 300:
                error = f"answered HTTP {response.status_code}"
            retry_after = retry_after_seconds(response)
            return Answer(response.status_code, excerpt, error, retry_after)
    except UnsafeDestination as refusal:
        return Answer(None, "", str(refusal), None)
    except requests.Timeout:
        return Answer(None, "", f"no answer within {timeout:g}s", None)
    except requests.RequestException as failure:
        return Answer(None, "", f"{type(failure).__name__}: could not reach the endpoint", None)


def _read_capped(response: requests.Response, deadline: float) -> bytes:
    """Return at most the size cap of the answer, read before the deadline."""
    cap = settings.CONNECTAPP_WEBHOOK_MAX_RESPONSE_BYTES
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(8192):
        chunks.append(chunk)
        size += len(chunk)
        if size >= cap or time.monotonic() > deadline:
            break
    return b"".join(chunks)[:cap]


# --- The sweep ----------------------------------------------------------------------------


def sweep(*, batch_size: int = 1000) -> tuple[int, int]:
    """Publish again what a lost message left behind; return (events, deliveries) published.

    Events not fanned out within the lease are dispatched; pending deliveries of active
    endpoints that are due, and whose message was published longer ago than the lease (or
    never: a retry too far off for the broker) and whose attempt is not in flight, are
    published again.
    """

    now = timezone.now()
    lease = now - settings.CONNECTAPP_WEBHOOK_LEASE
    event_ids = list(
        AnnouncedEvent.objects.filter(dispatched_at__isnull=True, created_at__lt=lease)
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
                | Q(attempt_started_at__lt=now - _in_flight_window())
            )
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        WebhookDelivery.objects.filter(pk__in=due).update(queued_at=now)
        transaction.on_commit(partial(publish, due))
    return len(event_ids), len(due)
