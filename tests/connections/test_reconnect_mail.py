"""A link that needs reconnecting is reported to its owner by mail, through the real paths."""

import pytest
from django.core import mail

from connectapp.connections import services
from connectapp.connections.models import LinkedAccount
from connectapp.exceptions import ProviderUnavailable
from connectapp.sandbox.pinterest import standin
from tests.factories import LinkedAccountFactory, UserFactory
from tests.support.mail import carols_reconnect_mail

Status = LinkedAccount.Status


def _pinterest_link(username: str) -> LinkedAccount:
    """A link holding tokens the stand-in really issued, owned by carol."""
    answer = standin.issue_tokens(username)
    return LinkedAccountFactory(
        user=UserFactory(username="carol", email="carol@example.com"),
        external_id=standin.user_id(username),
        username=username,
        access_token=answer["access_token"],
        refresh_token=answer["refresh_token"],
    )


@pytest.mark.django_db
def test_marking_a_link_needs_reconnect_mails_its_owner_once_committed(
    django_capture_on_commit_callbacks,
):
    account = LinkedAccountFactory(
        user=UserFactory(username="carol", email="carol@example.com"),
        username="carols-pins",
        access_token="never-in-mail",
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.mark_needs_reconnect(account.pk, "suspicious", actor="admin:root")
    assert mail.outbox == []
    for callback in callbacks:
        callback()

    message = carols_reconnect_mail()
    assert "carols-pins" in message.body
    assert "/connections/" in message.body
    assert "never-in-mail" not in message.body


@pytest.mark.django_db
def test_asking_again_for_a_link_already_waiting_sends_no_second_mail(
    django_capture_on_commit_callbacks,
):
    account = LinkedAccountFactory(status=Status.NEEDS_RECONNECT)

    with django_capture_on_commit_callbacks(execute=True):
        assert not services.mark_needs_reconnect(account.pk, "again", actor="admin:root")

    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_a_refresh_pinterest_refuses_mails_the_owner(pinterest):
    account = _pinterest_link("carols-pins")
    standin.revoke_user("carols-pins")

    assert services.refresh(account.pk, force=True) == "needs_reconnect"

    message = carols_reconnect_mail()
    assert account.refresh_token not in message.body
    assert account.access_token not in message.body


@pytest.mark.django_db(transaction=True)
def test_a_pinterest_outage_during_a_refresh_mails_nobody(pinterest):
    account = _pinterest_link("carols-pins")
    standin.inject_fault("error", "token", status=503)

    with pytest.raises(ProviderUnavailable):
        services.refresh(account.pk, force=True)

    assert LinkedAccount.objects.get(pk=account.pk).status == Status.ACTIVE
    assert mail.outbox == []
