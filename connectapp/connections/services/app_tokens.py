"""The site's own tokens for app-level (client credentials) providers, cached on a link with
no user."""

import logging

import requests
from django.db import IntegrityError, transaction
from django.utils import timezone

from connectapp.exceptions import (
    AccessRevoked,
    ProviderError,
    ProviderNotConfigured,
    ProviderUnavailable,
    UnknownProvider,
)
from connectapp.providers import registry
from connectapp.providers.base import Provider, TokenSet

from ..models import LinkedAccount
from .events import Kind, Outcome, needs_reconnect, record_event
from .refresh import ACCESS_TOKEN_MARGIN

logger = logging.getLogger(__name__)

Status = LinkedAccount.Status


def _app_link(provider: Provider) -> LinkedAccount:
    """The site's one link to an app-level provider, made (without a token) on first use."""
    link = LinkedAccount.objects.filter(user=None, provider=provider.name).first()
    if link is not None:
        return link
    try:
        with transaction.atomic():
            return LinkedAccount.objects.create(
                user=None,
                provider=provider.name,
                external_id=provider.client_id,
                username=provider.display_name,
                status=Status.ERROR,
                last_error="No token obtained yet.",
            )
    except IntegrityError:
        # Another process made it first: the one-per-provider constraint kept us to one.
        return LinkedAccount.objects.get(user=None, provider=provider.name)


def _usable(link: LinkedAccount, provider: Provider) -> bool:
    """A cached token for the current app credentials that is not about to expire."""
    return (
        bool(link.access_token)
        and link.external_id == provider.client_id
        and link.status == Status.ACTIVE
        and not link.is_due(ACCESS_TOKEN_MARGIN)
    )


def app_access_token(provider_name: str, *, actor: str = "on-demand") -> str:
    """Return this site's own access token for an app-level provider, obtained on first use.

    The token is cached (encrypted) on the provider's one link with no user, and a new one is
    obtained when it is about to expire, when the client id changed, or after a refusal
    (app credentials can be fixed without anyone reconnecting). Obtaining one happens under
    the link's row lock, so concurrent callers in any process cause one token request.

    Raises `UnknownProvider` for a name that is not an app-level provider,
    `ProviderNotConfigured` without app credentials, `AccessRevoked` when the provider
    refuses them, and `ProviderUnavailable` during an outage unless the cached token is still
    valid, which is then handed out.
    """
    provider = registry.get(provider_name)
    if not provider.app_level:
        raise UnknownProvider(f"{provider_name} is not an app-level provider")
    if not provider.configured:
        raise ProviderNotConfigured(provider)
    link = _app_link(provider)
    if _usable(link, provider):
        return link.access_token
    with transaction.atomic():
        link = LinkedAccount.objects.locked().get(pk=link.pk)
        if _usable(link, provider):
            return link.access_token  # another process obtained it while we waited
        if link.last_refreshed_at is None:
            kind = Kind.CONNECTED
        else:
            kind = Kind.REFRESHED if link.status == Status.ACTIVE else Kind.RECONNECTED
        try:
            tokens = provider.refresh(link.token_set())
        except AccessRevoked as refusal:
            if link.status != Status.NEEDS_RECONNECT:
                needs_reconnect(link, str(refusal), actor=actor)
            problem: ProviderError = refusal
        except ProviderUnavailable as outage:
            problem = outage
            link.last_error = str(outage)
            link.last_error_at = timezone.now()
            link.save(update_fields=["last_error", "last_error_at", "updated_at"])
            record_event(link, kind, actor=actor, outcome=Outcome.TRANSIENT, detail=str(outage))
        else:
            link.mark_active(tokens, replace=True)
            link.external_id = provider.client_id
            link.username = provider.display_name
            link.last_refreshed_at = link.last_verified_at = timezone.now()
            link.save()
            record_event(link, kind, actor=actor)
            logger.info("app link %s: obtained a %s token", link.pk, provider.name)
            return link.access_token
    still_valid = (
        isinstance(problem, ProviderUnavailable)
        and link.status == Status.ACTIVE
        and link.access_token
        and link.external_id == provider.client_id
        and (link.expires_at is None or link.expires_at > timezone.now())
    )
    if still_valid:
        return link.access_token
    raise problem


def app_session(provider_name: str) -> requests.Session:
    """Return a `requests` session carrying this site's own token for an app-level provider."""
    token = app_access_token(provider_name)
    return registry.get(provider_name).session(TokenSet(access_token=token))
