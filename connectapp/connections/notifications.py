"""Telling people about their links. Mail goes through Django's configured email backend.

Mail is written in the site's language (`LANGUAGE_CODE`): it is sent from workers and admin
actions, where the owner's own choice of language is not known.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from connectapp import conf
from connectapp.providers import registry

from .models import LinkedAccount

logger = logging.getLogger(__name__)


def needs_reconnect(account: LinkedAccount) -> None:
    """Ask the link's owner to reconnect; a mail failure is logged, never raised.

    An app-level link has no owner to ask: its event and the admin tell the operators.
    """
    email = account.user.email if account.user is not None else ""
    if not email:
        return
    provider = registry.get(account.provider)
    context = {
        "account": account,
        "provider": provider,
        # Wherever the site mounted connectapp's URLs.
        "connections_url": conf.value("PUBLIC_URL").rstrip("/") + reverse("connections:index"),
    }
    with translation.override(settings.LANGUAGE_CODE):
        subject = gettext("Reconnect your %(provider)s account") % {
            "provider": provider.display_name
        }
        body = render_to_string("connectapp/connections/email/needs_reconnect.txt", context)
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[email])
    except Exception:
        # A mail outage must not undo the state change it reports.
        logger.exception("link %s: could not send the reconnect email", account.pk)
