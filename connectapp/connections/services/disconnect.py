"""Ending a link: disconnect it (and revoke its tokens at the provider), or ask for a reconnect."""

import logging

from django.db import transaction

from connectapp.exceptions import ProviderError
from connectapp.providers import registry
from connectapp.providers.base import TokenSet

from ..models import SECRET_FIELDS, ConnectionEvent, LinkedAccount
from .events import Kind, Outcome, needs_reconnect, record_event

logger = logging.getLogger(__name__)

Status = LinkedAccount.Status


def disconnect(link_id: int, *, actor: str) -> bool:
    """Forget a link's credentials here, then revoke them at the provider where it can.

    The link is kept, marked disconnected, so its history stays readable; its event says
    what became of the tokens at the provider. Return False when it was already disconnected.
    """
    with transaction.atomic():
        link = LinkedAccount.objects.locked().filter(pk=link_id).first()
        if link is None or link.status == Status.REVOKED:
            return False
        tokens = link.token_set()
        for name in SECRET_FIELDS:
            setattr(link, name, "")
        link.expires_at = None
        link.refresh_expires_at = None
        link.status = Status.REVOKED
        link.save()
        event = record_event(link, Kind.DISCONNECTED, actor=actor)
    outcome = _revoke_at_provider(link, tokens)
    ConnectionEvent.objects.filter(pk=event.pk).update(detail=outcome)
    return True


def _revoke_at_provider(link: LinkedAccount, tokens: TokenSet) -> str:
    """Only after the local disconnect is saved, and no failure gets past here: return what
    happened, for the link's history."""
    try:
        provider = registry.get(link.provider)
        if not provider.offers_revocation:
            return "not revoked at the provider, which offers no revocation"
        provider.revoke(tokens)
    except ProviderError as failure:  # its message is safe to log: it never holds a secret
        logger.warning("link %s: revocation at %s failed: %s", link.pk, link.provider, failure)
        return f"revocation at the provider failed: {failure}"
    except Exception:  # noqa: BLE001 - revocation at the provider is a courtesy
        logger.warning("link %s: revocation at %s failed", link.pk, link.provider)
        return "revocation at the provider failed"
    return "revoked at the provider"


def mark_needs_reconnect(link_id: int, reason: str, *, actor: str) -> bool:
    """Ask the link's owner to connect again (an admin's call when the credentials are suspect).

    Return False when the link is gone, disconnected or already waiting for a reconnect.
    """
    with transaction.atomic():
        link = LinkedAccount.objects.locked().filter(pk=link_id).first()
        if link is None or link.status in (Status.REVOKED, Status.NEEDS_RECONNECT):
            return False
        needs_reconnect(link, reason, actor=actor, outcome=Outcome.OK)
    return True
