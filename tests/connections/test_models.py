import pytest
from django.db import IntegrityError, transaction

from connectapp.connections.models import LinkedAccount
from tests.factories import LinkedAccountFactory, UserFactory


@pytest.mark.django_db
def test_an_external_account_is_live_for_one_user_only():
    first = LinkedAccountFactory(external_id="same-person")
    with pytest.raises(IntegrityError), transaction.atomic():
        LinkedAccountFactory(provider=first.provider, external_id="same-person", user=UserFactory())


@pytest.mark.django_db
def test_the_same_external_id_at_another_provider_is_another_account():
    LinkedAccountFactory(provider="pinterest", external_id="42")
    LinkedAccountFactory(provider="discogs", external_id="42")
    assert LinkedAccount.objects.filter(external_id="42").count() == 2


@pytest.mark.django_db
def test_a_disconnected_link_frees_the_external_account_for_another_user():
    LinkedAccountFactory(external_id="moved", status=LinkedAccount.Status.REVOKED)
    LinkedAccountFactory(external_id="moved", user=UserFactory())
    assert LinkedAccount.objects.filter(external_id="moved").count() == 2


def test_secrets_stay_out_of_the_string_form():
    account = LinkedAccount(provider="pinterest", external_id="9", username="pinner")
    account.access_token = "should-not-show"
    assert "should-not-show" not in str(account)
    assert "should-not-show" not in repr(account)
