"""Bulk publishing puts on the Redis broker exactly the messages `apply_async` would."""

import base64
import json
import uuid

from django.conf import settings

from connectapp.connections import tasks
from connectapp.connections.infra import broker

QUEUE = settings.CONNECTAPP_PROVIDER_QUEUE


def taken(client) -> list[dict]:
    """Return the waiting messages in the order workers take them, bodies decoded."""
    messages = []
    while (raw := client.rpop(QUEUE)) is not None:
        message = json.loads(raw)
        message["body"] = json.loads(base64.b64decode(message["body"]))
        messages.append(message)
    return messages


def without_identity(message: dict) -> dict:
    """The message less what differs between any two: its ids, its tag, its argument."""
    headers = {**message["headers"], "id": None, "root_id": None, "argsrepr": None}
    properties = {**message["properties"], "correlation_id": None, "delivery_tag": None}
    return {**message, "headers": headers, "properties": properties, "body": None}


def test_bulk_messages_are_what_apply_async_sends_each_with_its_own_ids(broker_queues):
    tasks.refresh_account.apply_async((41, "pinterest"))
    [single] = taken(broker_queues)

    broker.publish_each(tasks.refresh_account, [7, 8, 9], "pinterest")

    bulk = taken(broker_queues)
    assert [message["body"][0] for message in bulk] == [
        [7, "pinterest"],
        [8, "pinterest"],
        [9, "pinterest"],
    ]
    assert [message["headers"]["argsrepr"] for message in bulk] == [
        "(7, 'pinterest')", "(8, 'pinterest')", "(9, 'pinterest')",
    ]  # fmt: skip
    assert all(without_identity(message) == without_identity(single) for message in bulk)
    assert single["body"][1:] == bulk[0]["body"][1:]
    ids = {message["headers"]["id"] for message in bulk}
    assert len(ids) == 3 and single["headers"]["id"] not in ids
    for message in bulk:
        assert message["headers"]["root_id"] == message["headers"]["id"]
        assert message["properties"]["correlation_id"] == message["headers"]["id"]
    tags = {message["properties"]["delivery_tag"] for message in bulk}
    assert len(tags) == 3 and not tags & ids
    for made in ids | tags:  # UUID 4s, as apply_async's
        assert str(uuid.UUID(made)) == made and uuid.UUID(made).version == 4


def test_a_batch_is_one_round_trip(broker_queues, sent):
    broker.publish_each(tasks.refresh_account, list(range(1, 1001)), "pinterest")

    assert len([payload for payload in sent if b"LPUSH" in payload]) == 1
    assert [message["body"][0][0] for message in taken(broker_queues)] == list(range(1, 1001))
