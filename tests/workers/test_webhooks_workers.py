"""Webhooks delivered by real worker processes through the real Redis broker: state changes
from the browser flow, the workers, the admin and the commands arrive once per subscribed
endpoint; failures are retried with one webhook-id; killed workers and a purged broker lose
nothing; a slow endpoint holds back no other."""

import os
import signal
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from connectapp.connections import services, tasks
from connectapp.connections.models import AnnouncedEvent, LinkedAccount, WebhookDelivery
from connectapp.connections.services import webhooks
from tests.support.flows import path_of
from tests.support.pinterest_support import approve, pinterest_link
from tests.support.workers import purge_queues, wait_until

#: Retries a second apart, short deadlines and leases, so the schedule plays out in seconds.
QUICK = {
    "CONNECTAPP_WEBHOOK_RETRY_SCHEDULE_SECONDS": "1,1,1,1",
    "CONNECTAPP_WEBHOOK_TIMEOUT": "2",
    "CONNECTAPP_WEBHOOK_LEASE_SECONDS": "2",
}


@pytest.fixture
def quick(settings):
    settings.CONNECTAPP_WEBHOOK_TIMEOUT = 2.0
    settings.CONNECTAPP_WEBHOOK_LEASE_SECONDS = 2


def test_changes_from_browser_workers_admin_and_commands_arrive_once_per_endpoint(
    pinterest, client, user, admin_client, start_worker, receiver_factory
):
    everything = receiver_factory()
    some = receiver_factory(["link.refreshed", "link.disconnected"])
    client.force_login(user)

    client.get(path_of(approve(client, "pin-collector")))  # the browser: link.connected
    assert everything.hits == some.hits == []  # the web process did no HTTP to a receiver
    link = LinkedAccount.objects.get()
    LinkedAccount.objects.filter(pk=link.pk).update(expires_at=timezone.now() + timedelta(hours=1))
    start_worker(concurrency=2, env=QUICK)
    tasks.refresh_account.delay(link.pk)  # a worker: link.refreshed
    wait_until(lambda: len(everything.received) == 2, what="connected and refreshed")
    call_command("connections", "verify", str(link.pk), stdout=StringIO())  # link.verified
    admin_client.post(  # the admin: link.disconnected
        reverse("admin:connections_linkedaccount_changelist"),
        {"action": "disconnect_links", "_selected_action": [link.pk], "post": "yes"},
    )

    wait_until(lambda: len(everything.received) == 4, what="all four events")
    wait_until(lambda: len(some.received) == 2, what="the two subscribed events")
    time.sleep(1)  # nothing more comes
    assert everything.types() == [
        "link.connected",
        "link.refreshed",
        "link.verified",
        "link.disconnected",
    ]
    assert some.types() == ["link.refreshed", "link.disconnected"]
    assert everything.refused == some.refused == []
    actors = [d.body["data"]["actor"] for d in everything.received]
    assert actors == ["user:alice", "worker", "command", "admin:admin"]


def test_a_failing_receiver_is_retried_with_the_same_id_until_it_takes_the_event(
    pinterest, user, start_worker, receiver_factory
):
    receiver = receiver_factory()
    receiver.script((500,), ("sleep", 3), (429, {"Retry-After": "2"}))
    services.mark_needs_reconnect(pinterest_link(user).pk, "suspect", actor="admin:root")
    event = AnnouncedEvent.objects.get()

    start_worker(env=QUICK)

    delivery = WebhookDelivery.objects.get()
    wait_until(
        lambda: WebhookDelivery.objects.get().status == "delivered",
        timeout=60,
        what="the event, after three failures",
    )
    assert receiver.hits == [event.event_id] * 4
    # The receiver took the one it answered too late for too: at least once, one id.
    assert {d.webhook_id for d in receiver.received} == {event.event_id}
    attempts = list(delivery.attempts.order_by("attempted_at"))
    assert [a.status_code for a in attempts] == [500, None, 429, 200]
    assert (attempts[3].attempted_at - attempts[2].attempted_at).total_seconds() >= 2


def test_a_killed_worker_and_a_purged_broker_lose_no_event(
    pinterest, user, start_worker, receiver_factory, quick
):
    receiver = receiver_factory()
    receiver.script(("sleep", 6))
    services.mark_needs_reconnect(pinterest_link(user).pk, "suspect", actor="admin:root")
    event = AnnouncedEvent.objects.get()
    purge_queues()  # the fan-out's message is lost

    first = start_worker(concurrency=1, env=QUICK)
    wait_until(
        lambda: tasks.sweep_webhooks() is not None and receiver.hits,
        what="the sweep to dispatch the lost event and a worker to start delivering it",
    )
    os.killpg(first.process.pid, signal.SIGKILL)  # mid-delivery, the whole worker
    first.process.wait(timeout=10)
    purge_queues()
    start_worker(concurrency=1, env=QUICK)

    wait_until(
        lambda: (
            tasks.sweep_webhooks() is not None
            and WebhookDelivery.objects.get().status == "delivered"
        ),
        timeout=90,
        what="the sweep to send the delivery again",
    )
    assert len(receiver.hits) == 2
    assert set(receiver.hits) == {d.webhook_id for d in receiver.received} == {event.event_id}
    [attempt] = WebhookDelivery.objects.get().attempts.all()  # the killed one left no record
    assert attempt.status_code == 200


def test_a_slow_endpoint_does_not_hold_back_the_others(
    pinterest, user, start_worker, receiver_factory
):
    slow = receiver_factory()
    fast = receiver_factory()
    slow.script(*[("sleep", 3)] * 6)
    for n in range(6):
        link = pinterest_link(user, f"pinner{n}", expires_in=timedelta(days=30))
        services.mark_needs_reconnect(link.pk, "suspect", actor="admin:root")

    start_worker(
        concurrency=3,
        env={
            **QUICK,
            "CONNECTAPP_WEBHOOK_TIMEOUT": "5",
            "CONNECTAPP_WEBHOOK_ENDPOINT_CONCURRENCY": "1",
        },
    )

    wait_until(lambda: len(fast.received) == 6, timeout=30, what="the fast endpoint's six")
    assert len(slow.received) < 6
    wait_until(lambda: len(slow.received) == 6, timeout=90, what="the slow endpoint's six")
    assert webhooks.sweep() == (0, 0)
