"""What the mail tests share: the one mail asking carol to reconnect her Pinterest link."""

from django.core import mail
from django.core.mail import EmailMessage


def carols_reconnect_mail() -> EmailMessage:
    """Return the one mail sent, after checking it asks carol to reconnect Pinterest."""
    (message,) = mail.outbox
    assert message.to == ["carol@example.com"]
    assert message.subject == "Reconnect your Pinterest account"
    return message
