"""Connecting a user's account at a provider: start a flow, then complete it from its callback."""

import logging
from collections.abc import Mapping

from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, transaction
from django.utils import timezone

from connectapp.exceptions import AccountLinkedElsewhere, ProviderNotConfigured
from connectapp.providers import registry

from ..models import SECRET_FIELDS, LinkedAccount
from .events import Kind, record_event
from .flowstate import keep_flow, take_flow

logger = logging.getLogger(__name__)


def begin_connect(session: SessionBase, user, provider_name: str, callback_url: str) -> str:
    """Start a flow bound to this browser session; return the URL to send the browser to."""
    provider = registry.get(provider_name)
    if not provider.configured:
        raise ProviderNotConfigured(provider)
    authorization = provider.begin(callback_url)
    keep_flow(session, user, provider, authorization)
    return authorization.url


def complete_connect(
    session: SessionBase, user, provider_name: str, params: Mapping[str, str], callback_url: str
) -> LinkedAccount:
    """Finish a flow from its callback: exchange, identify, then return the new or updated link.

    Raises `FlowDeclined`, `FlowError`, `AccountLinkedElsewhere`, `ProviderUnavailable` or
    `AccessRevoked`; in each case nothing is stored.
    """
    provider = registry.get(provider_name)
    pending = take_flow(session, user, provider, params)
    tokens = provider.finish(params, pending, callback_url)
    identity = provider.identity(tokens)
    actor = f"user:{user.get_username()}"
    try:
        with transaction.atomic():
            # The secrets being replaced are not read: a reconnect also mends a link whose
            # secrets no configured key opens any more.
            link = (
                LinkedAccount.objects.locked()
                .defer(*SECRET_FIELDS)
                .live()
                .filter(provider=provider.name, external_id=identity.external_id)
                .first()
            )
            if link is not None and link.user_id != user.pk:
                raise AccountLinkedElsewhere(provider)
            if link is None:
                link = (
                    LinkedAccount.objects.locked()
                    .defer(*SECRET_FIELDS)
                    .filter(user=user, provider=provider.name, external_id=identity.external_id)
                    .order_by("-updated_at")
                    .first()
                )
            kind = Kind.RECONNECTED if link is not None else Kind.CONNECTED
            if link is None:
                link = LinkedAccount(
                    user=user, provider=provider.name, external_id=identity.external_id
                )
            link.rename(identity.username)
            link.mark_active(tokens, replace=True)
            now = timezone.now()
            link.last_verified_at = now
            link.last_refreshed_at = now if provider.supports_refresh else None
            link.save()
            record_event(link, kind, actor=actor, detail=f"as {identity.username}")
    except IntegrityError:
        # Another user linked this external account between our read and our write.
        raise AccountLinkedElsewhere(provider) from None
    logger.info("link %s: %s %s as %s", link.pk, kind, provider.name, identity.username)
    return link
