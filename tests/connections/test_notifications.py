import pytest
from django.core import mail

from connectapp.connections import notifications
from tests.factories import LinkedAccountFactory, UserFactory
from tests.support.mail import carols_reconnect_mail

pytestmark = pytest.mark.django_db


def test_the_owner_is_asked_by_mail_to_reconnect(settings):
    settings.CONNECTAPP_PUBLIC_URL = "https://connect.example.com"
    account = LinkedAccountFactory(
        user=UserFactory(username="carol", email="carol@example.com"),
        username="carols-pins",
        access_token="never-in-mail",
    )
    notifications.needs_reconnect(account)
    message = carols_reconnect_mail()
    assert "carols-pins" in message.body
    assert "https://connect.example.com/connections/" in message.body
    assert "never-in-mail" not in message.body


def test_no_mail_without_an_address():
    notifications.needs_reconnect(LinkedAccountFactory(user=UserFactory(email="")))
    assert mail.outbox == []


def test_a_mail_outage_does_not_raise(settings, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    notifications.needs_reconnect(LinkedAccountFactory(user=UserFactory(email="d@example.com")))
    assert "could not send the reconnect email" in caplog.text
