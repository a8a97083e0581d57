"""Webhooks managed from the admin and the `connections webhooks` command."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from connectapp.connections.models import (
    AnnouncedEvent,
    DeliveryAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from connectapp.connections.services import webhooks

pytestmark = pytest.mark.django_db

ENDPOINTS = reverse("admin:connections_webhookendpoint_changelist")
DELIVERIES = reverse("admin:connections_webhookdelivery_changelist")


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("connections", "webhooks", *args, stdout=out)
    return out.getvalue().splitlines()


def test_add_prints_the_secret_once_alone_on_the_last_line(receiver_factory):
    receiver = receiver_factory(endpoint=False)

    lines = run("add", receiver.url, "--events", "link.connected,link.disconnected")

    secret = lines[-1]
    assert secret.startswith("whsec_") and " " not in secret
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret == secret
    assert endpoint.events == ["link.connected", "link.disconnected"]
    assert secret not in "\n".join(run("list"))


def test_add_refuses_an_unknown_event_and_a_non_http_url():
    with pytest.raises(CommandError, match="unknown event types"):
        run("add", "https://example.com/hooks", "--events", "link.exploded")
    with pytest.raises(CommandError, match="not an http"):
        run("add", "ftp://example.com/hooks")
    assert not WebhookEndpoint.objects.exists()


def test_test_sends_a_signed_test_event_now_and_redeliver_resends_it_with_its_id(
    receiver_factory,
):
    receiver = receiver_factory()

    [line] = run("test", str(receiver.endpoint.pk))
    delivery = WebhookDelivery.objects.get()
    again = run("redeliver", str(delivery.pk))

    assert "delivered, 200" in line and "delivered, 200" in again[0]
    assert receiver.types() == ["webhook.test", "webhook.test"]
    assert receiver.ids() == [delivery.event.event_id] * 2
    assert receiver.refused == []
    listing = run("list")
    assert any(receiver.url in row and "yes" in row for row in listing)
    with pytest.raises(CommandError, match="no webhook endpoint 999"):
        run("test", "999")


def test_admin_adding_an_endpoint_shows_its_secret_once_and_stores_it_encrypted(admin_client):
    response = admin_client.post(
        reverse("admin:connections_webhookendpoint_add"),
        {"url": "https://hooks.example.com/in", "events": ["link.refreshed"], "is_active": "on"},
    )

    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in response.content.decode()
    assert endpoint.events == ["link.refreshed"]
    change = admin_client.get(
        reverse("admin:connections_webhookendpoint_change", args=[endpoint.pk])
    )
    assert endpoint.secret not in change.content.decode()
    assert endpoint.secret not in admin_client.get(ENDPOINTS).content.decode()


def test_admin_sends_a_test_event_and_sends_a_delivery_again(
    admin_client, receiver_factory, django_capture_on_commit_callbacks, monkeypatch
):
    receiver = receiver_factory()
    # What the workers would do with the published deliveries, done here.
    monkeypatch.setattr(
        webhooks,
        "publish",
        lambda ids, **kwargs: [webhooks.run(i, force=True) for i in ids],
    )
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            ENDPOINTS,
            {"action": "send_test_event", "_selected_action": [receiver.endpoint.pk]},
        )
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(DELIVERIES, {"action": "send_again", "_selected_action": [delivery.pk]})

    assert receiver.ids() == [delivery.event.event_id] * 2
    assert DeliveryAttempt.objects.filter(delivery=delivery, status_code=200).count() == 2
    page = admin_client.get(
        reverse("admin:connections_webhookdelivery_change", args=[delivery.pk])
    ).content.decode()
    assert '{"status": 200}' in page.replace("&quot;", '"')


def test_admin_lists_deliveries_filtered_by_endpoint_event_and_status(admin_client):
    first, _ = webhooks.create_endpoint("https://a.example.com/")
    second, _ = webhooks.create_endpoint("https://b.example.com/")
    event = AnnouncedEvent.objects.create(type="link.refreshed", payload={})
    other = AnnouncedEvent.objects.create(type="link.error", payload={})
    done = WebhookDelivery.objects.create(event=event, endpoint=first, status="delivered")
    waiting = WebhookDelivery.objects.create(event=other, endpoint=second)

    def listed(**query) -> set[int]:
        response = admin_client.get(DELIVERIES, query)
        return {row.pk for row in response.context["cl"].result_list}

    assert listed() == {done.pk, waiting.pk}
    assert listed(endpoint__id__exact=first.pk) == {done.pk}
    assert listed(event__type="link.error") == {waiting.pk}
    assert listed(status__exact="pending") == {waiting.pk}
