"""Webhooks in this process: every event type, signatures, retries, refusals, disabling.

Deliveries are attempted here by calling the same service the delivery task calls, against a
real receiver on 127.0.0.1 that verifies each one with `standardwebhooks`. The workers' side
is in test_webhooks_workers.py.
"""

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from connectapp import conf
from connectapp.connections import services
from connectapp.connections.infra import webhook_http, writeahead
from connectapp.connections.models import (
    AnnouncedEvent,
    ConnectionEvent,
    LinkedAccount,
    WebhookDelivery,
    WebhookEndpoint,
)
from connectapp.connections.services import deliveries, webhooks
from connectapp.connections.services import events as link_events
from connectapp.exceptions import InvalidEndpoint
from connectapp.providers.base import TokenSet
from connectapp.sandbox.pinterest import standin
from tests.factories import UserFactory
from tests.support.flows import path_of
from tests.support.pinterest_support import approve, pinterest_link

pytestmark = pytest.mark.django_db

Status = LinkedAccount.Status
Delivery = WebhookDelivery.Status


@pytest.fixture
def pinterest(sandbox):
    standin.reset()
    yield standin
    standin.reset()


def deliver_everything() -> None:
    """What the workers do: fan out every event, then attempt every pending delivery once."""
    for event_pk in AnnouncedEvent.objects.filter(dispatched_at__isnull=True).values_list(
        "pk", flat=True
    ):
        webhooks.dispatch(event_pk)
    pending = WebhookDelivery.objects.filter(status=Delivery.PENDING)
    pending.update(next_attempt_at=timezone.now())
    for delivery_id in pending.values_list("pk", flat=True):
        webhooks.attempt(delivery_id)


def test_every_link_event_type_arrives_once_per_subscribed_endpoint_signed(
    pinterest, signed_in, user, receiver_factory
):
    everything = receiver_factory()
    failures = receiver_factory(["link.needs_reconnect", "link.error", "link.disconnected"])

    signed_in.get(path_of(approve(signed_in, "pin-collector")))  # link.connected
    signed_in.get(path_of(approve(signed_in, "pin-collector")))  # link.reconnected
    link = LinkedAccount.objects.get()
    assert services.refresh(link.pk, actor="admin:root", force=True) == "refreshed"
    assert services.verify(link.pk, actor="command") == "verified"
    pinterest.inject_fault("error", "token", status=503)
    with pytest.raises(Exception, match=r"503|unavailable|Unavailable"):
        services.refresh(link.pk, actor="worker", force=True)  # link.error
    pinterest.revoke_user("pin-collector")
    assert services.refresh(link.pk, force=True) == "needs_reconnect"
    # A refresh whose rotated tokens were saved only in the write-ahead cache brings the
    # link back on its next refresh: link.recovered.
    link.refresh_from_db()
    fresh = pinterest.issue_tokens("pin-collector")
    writeahead.keep(
        link.pk,
        link.refresh_token,
        TokenSet(
            access_token=fresh["access_token"],
            refresh_token=fresh["refresh_token"],
            expires_at=timezone.now() + timedelta(days=30),
        ),
    )
    assert services.refresh(link.pk, force=True) == "refreshed"
    signed_in.post(f"/connections/{link.pk}/disconnect/")  # link.disconnected

    deliver_everything()

    expected = [
        "link.connected",
        "link.reconnected",
        "link.refreshed",
        "link.verified",
        "link.error",
        "link.needs_reconnect",
        "link.recovered",
        "link.disconnected",
    ]
    assert sorted(everything.types()) == sorted(expected)
    assert sorted(failures.types()) == ["link.disconnected", "link.error", "link.needs_reconnect"]
    assert everything.refused == failures.refused == []
    assert len(set(everything.ids())) == len(expected)
    connected = next(d.body for d in everything.received if d.body["type"] == "link.connected")
    assert set(connected) == {"id", "type", "timestamp", "data"}
    assert connected["data"]["actor"] == "user:alice"
    assert connected["data"]["link"]["user"] == {"id": user.pk, "username": "alice"}
    assert connected["data"]["link"]["provider"] == "pinterest"
    assert connected["data"]["link"]["username"] == "pin-collector"
    assert connected["data"]["link"]["status"] == "active"
    history = ConnectionEvent.objects.filter(account=link).count()
    assert AnnouncedEvent.objects.filter(account=link).count() == history == len(expected)


def test_no_token_or_secret_is_ever_in_a_delivery(pinterest, signed_in, receiver_factory):
    receiver = receiver_factory()
    signed_in.get(path_of(approve(signed_in, "pin-collector")))
    link = LinkedAccount.objects.get()

    deliver_everything()

    [delivery] = receiver.received
    for secret in (link.access_token, link.refresh_token, receiver.secret):
        assert secret and secret.encode() not in delivery.raw
    assert b"token" not in delivery.raw.replace(b"refresh_expires_at", b"")


def test_app_level_event_types_map_from_the_history(db):
    app = LinkedAccount(user=None, provider="toolkit-app", external_id="c", status=Status.ACTIVE)
    Kind, Outcome = ConnectionEvent.Kind, ConnectionEvent.Outcome

    assert link_events.event_type(app, Kind.CONNECTED, Outcome.OK) == "app_token.obtained"
    assert link_events.event_type(app, Kind.REFRESHED, Outcome.OK) == "app_token.obtained"
    assert link_events.event_type(app, Kind.CONNECTED, Outcome.TRANSIENT) == "app_token.failed"
    assert link_events.event_type(app, Kind.NEEDS_RECONNECT, Outcome.FAILED) == "app_token.failed"
    assert link_events.event_type(app, Kind.DISCONNECTED, Outcome.OK) == "link.disconnected"


def test_a_failing_receiver_gets_retries_with_the_same_id_and_finally_the_event(
    pinterest, user, receiver_factory, settings
):
    settings.CONNECTAPP_WEBHOOK_TIMEOUT = 0.5
    settings.CONNECTAPP_WEBHOOK_RETRY_SCHEDULE_SECONDS = [1.0, 1.0, 1.0, 1.0]
    receiver = receiver_factory()
    receiver.script((500,), ("sleep", 1.5), (429, {"Retry-After": "120"}))
    services.mark_needs_reconnect(pinterest_link(user).pk, "suspect", actor="admin:root")
    AnnouncedEvent.objects.update(dispatched_at=None)
    [delivery_id] = webhooks.dispatch(AnnouncedEvent.objects.get().pk)

    outcomes = []
    for _ in range(4):
        WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now())
        before = timezone.now()
        outcomes.append(webhooks.attempt(delivery_id))
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        if outcomes[-1].name == "retrying" and len(outcomes) == 3:
            assert delivery.next_attempt_at >= before + timedelta(seconds=120)

    assert [outcome.name for outcome in outcomes] == [
        "retrying",
        "retrying",
        "retrying",
        "delivered",
    ]
    assert outcomes[2].retry_in >= 120
    attempts = list(delivery.attempts.order_by("attempted_at"))
    assert [a.status_code for a in attempts] == [500, None, 429, 200]
    assert "no answer within" in attempts[1].error
    assert attempts[0].response_excerpt == '{"status": 500}'
    assert receiver.hits == [delivery.event.event_id] * 4
    # The receiver also took the one it answered too late for: at least once, one id.
    assert {d.webhook_id for d in receiver.received} == {delivery.event.event_id}
    assert receiver.received[-1].body["type"] == "link.needs_reconnect"


def test_retries_last_more_than_a_day_then_the_delivery_fails(settings):
    shortest = sum(
        min(deliveries.retry_delay(n, None) for _ in range(50))
        for n in range(1, len(conf.value("WEBHOOK_RETRY_SCHEDULE_SECONDS")) + 1)
    )
    assert shortest >= 24 * 60 * 60
    assert (
        deliveries.retry_delay(len(conf.value("WEBHOOK_RETRY_SCHEDULE_SECONDS")) + 1, None) is None
    )
    assert deliveries.retry_delay(1, 600.0) == 600.0


def test_a_redirecting_receiver_is_not_followed(user, receiver_factory):
    target = receiver_factory(endpoint=False)
    receiver = receiver_factory()
    receiver.script((302, {"Location": target.url}))
    webhooks.send_test(receiver.endpoint.pk, actor="test", queue=False)

    outcome = webhooks.attempt(WebhookDelivery.objects.get().pk, force=True)

    assert outcome.name == "retrying"
    [attempt] = WebhookDelivery.objects.get().attempts.all()
    assert attempt.status_code == 302
    assert "redirect" in attempt.error
    assert target.hits == []


def test_a_private_address_is_refused_outside_debug(receiver_factory, settings):
    settings.CONNECTAPP_WEBHOOK_ALLOW_PRIVATE = False
    receiver = receiver_factory()
    delivery = webhooks.send_test(receiver.endpoint.pk, actor="test", queue=False)

    webhooks.attempt(delivery.pk, force=True)

    [attempt] = delivery.attempts.all()
    assert attempt.status_code is None
    assert "non-public address" in attempt.error
    assert receiver.hits == []


def test_only_http_urls_are_accepted():
    for url in ("ftp://example.com/x", "file:///etc/passwd", "http://user:pw@example.com/", "x"):
        with pytest.raises(InvalidEndpoint):
            webhooks.create_endpoint(url)
    with pytest.raises(InvalidEndpoint, match="unknown event types"):
        webhooks.create_endpoint("https://example.com/", ["link.exploded"])


def test_the_secret_is_stored_encrypted(receiver_factory):
    from django.db import connection

    receiver = receiver_factory()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret FROM connections_webhookendpoint WHERE id = %s", [receiver.endpoint.pk]
        )
        [stored] = cursor.fetchone()
    assert receiver.secret.startswith("whsec_")
    assert receiver.secret not in stored


@pytest.mark.parametrize(
    "admins",
    [
        ["ops@example.com", "root@example.com"],  # Django 6.0's form
        [("Ops", "ops@example.com"), ("Root", "root@example.com")],  # Django 5.2's pairs
    ],
)
def test_the_admins_to_tell_are_read_from_either_form_of_the_admins_setting(settings, admins):
    settings.ADMINS = admins
    assert deliveries.admin_addresses() == {"ops@example.com", "root@example.com"}


def test_an_endpoint_failing_for_three_days_is_disabled_and_re_enabling_delivers_what_waited(
    user, receiver_factory, django_capture_on_commit_callbacks
):
    UserFactory(username="root", email="root@example.com", is_superuser=True, is_staff=True)
    receiver = receiver_factory()
    endpoint = receiver.endpoint
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=3, minutes=1)
    )
    receiver.script((503,))
    account = pinterest_link(user, expires_in=timedelta(days=30))
    services.mark_needs_reconnect(account.pk, "suspect", actor="admin:root")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(webhooks, "publish", lambda *args, **kwargs: None)
        with django_capture_on_commit_callbacks(execute=True):
            deliver_everything()
        endpoint.refresh_from_db()
        assert not endpoint.is_active and endpoint.disabled_at is not None
        services.disconnect(account.pk, actor="admin:root")
        deliver_everything()  # the disabled endpoint's delivery waits
    assert len(receiver.hits) == 1
    assert [m.to for m in mail.outbox if "disabled" in m.subject] == [["root@example.com"]]
    waiting = WebhookDelivery.objects.filter(endpoint=endpoint, status=Delivery.PENDING)
    assert waiting.count() == 2

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(webhooks, "publish", lambda ids, **kw: [webhooks.run(i) for i in ids])
        with django_capture_on_commit_callbacks(execute=True):
            assert webhooks.enable_endpoint(endpoint.pk) == 2

    assert sorted(receiver.types()) == ["link.disconnected", "link.needs_reconnect"]
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failing_since is None


def test_an_endless_answer_is_read_only_up_to_the_cap(receiver_factory, settings):
    settings.CONNECTAPP_WEBHOOK_MAX_RESPONSE_BYTES = 1000
    settings.CONNECTAPP_WEBHOOK_TIMEOUT = 5.0
    receiver = receiver_factory()
    receiver.script(("endless",))
    delivery = webhooks.send_test(receiver.endpoint.pk, actor="test", queue=False)

    started = time.monotonic()
    webhooks.attempt(delivery.pk, force=True)

    assert time.monotonic() - started < 2.0
    [attempt] = delivery.attempts.all()
    assert attempt.status_code == 200
    assert len(attempt.response_excerpt) == webhook_http.EXCERPT_BYTES
