"""Signals: sent once after the change commits, with the webhook's payload; never before,
never for a change rolled back, and a receiver that raises breaks nothing."""

import logging

import pytest
from django.db import transaction

from connectapp.connections import services, signals
from connectapp.connections.models import LinkedAccount
from connectapp.sandbox.pinterest import standin
from tests.support.flows import path_of
from tests.support.pinterest_support import approve, pinterest_link

pytestmark = pytest.mark.django_db


@pytest.fixture
def pinterest(sandbox):
    standin.reset()
    yield standin
    standin.reset()


@pytest.fixture
def heard():
    """Everything `signals.link_event` and `signals.link_connected` send, in order."""
    calls: list[tuple[str, dict]] = []

    def any_event(sender, **kwargs):
        assert not transaction.get_connection().in_atomic_block, "sent inside the transaction"
        calls.append(("any", kwargs))

    def connected(sender, **kwargs):
        calls.append(("connected", kwargs))

    signals.link_event.connect(any_event)
    signals.link_connected.connect(connected)
    yield calls
    signals.link_event.disconnect(any_event)
    signals.link_connected.disconnect(connected)


def test_connecting_sends_the_signals_once_after_the_commit(pinterest, signed_in, user, heard):
    # The stand-ins' live server makes this test commit for real: the receiver checks that
    # no transaction is open when it hears the event.
    signed_in.get(path_of(approve(signed_in, "pin-collector")))

    assert [name for name, _ in heard] == ["any", "connected"]
    arguments = heard[0][1]
    assert (heard[0][1].pop("signal"), heard[1][1].pop("signal")) == (
        signals.link_event,
        signals.link_connected,
    )
    assert heard[1][1] == arguments
    assert set(arguments) == {"event_id", "type", "timestamp", "link", "actor"}
    assert arguments["type"] == "link.connected"
    assert arguments["actor"] == "user:alice"
    link = LinkedAccount.objects.get()
    assert arguments["link"]["id"] == link.pk
    assert arguments["link"]["user"] == {"id": user.pk, "username": "alice"}
    assert link.access_token not in repr(arguments)


def test_a_change_rolled_back_sends_nothing(
    pinterest, user, heard, django_capture_on_commit_callbacks
):
    account = pinterest_link(user)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.mark_needs_reconnect(account.pk, "suspect", actor="admin:root")
        raise RuntimeError("the caller's transaction fails after the change")

    assert heard == []
    assert LinkedAccount.objects.get(pk=account.pk).status == LinkedAccount.Status.ACTIVE


def test_a_receiver_that_raises_is_logged_and_breaks_nothing(
    pinterest, user, caplog, django_capture_on_commit_callbacks
):
    def broken(sender, **kwargs):
        raise ValueError("the receiver's own bug")

    account = pinterest_link(user)
    signals.link_needs_reconnect.connect(broken)
    try:
        with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
            changed = services.mark_needs_reconnect(account.pk, "suspect", actor="admin:root")
    finally:
        signals.link_needs_reconnect.disconnect(broken)

    assert changed is True
    assert LinkedAccount.objects.get(pk=account.pk).status == LinkedAccount.Status.NEEDS_RECONNECT
    [record] = [r for r in caplog.records if "signal receiver" in r.getMessage()]
    assert "broken" in record.getMessage()
    assert "the receiver's own bug" in record.exc_text
