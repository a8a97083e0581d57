"""Verifying a link: ask the provider who its credentials belong to."""

from enum import StrEnum

from django.db import transaction
from django.utils import timezone

from connectapp.exceptions import AccessRevoked, ProviderUnavailable
from connectapp.providers import registry

from .. import messages
from ..models import LinkedAccount
from .events import Kind, Outcome, mark_error, needs_reconnect, record_event
from .refresh import ACCESS_TOKEN_MARGIN, RefreshOutcome, refresh

Status = LinkedAccount.Status


class VerifyOutcome(StrEnum):
    """What `verify` did; tasks, admin, the command and the metrics read it."""

    VERIFIED = "verified"
    SKIPPED = "skipped"
    GONE = "gone"
    NEEDS_RECONNECT = "needs_reconnect"
    ERROR = "error"


def verify(link_id: int, *, actor: str = "worker") -> VerifyOutcome:
    """Ask the provider who the link's credentials belong to; return what happened.

    Raises `ProviderUnavailable` with the link untouched.
    """
    link = LinkedAccount.objects.filter(pk=link_id).first()
    if link is None:
        return VerifyOutcome.GONE
    if link.status == Status.REVOKED:
        return VerifyOutcome.SKIPPED
    provider = registry.get(link.provider)
    if provider.app_level:
        # The site's own credentials are checked by asking for a token with them.
        outcome = refresh(link_id, actor=actor, force=True)
        if outcome in (RefreshOutcome.REFRESHED, RefreshOutcome.ALREADY_REFRESHED):
            return VerifyOutcome.VERIFIED
        return VerifyOutcome(outcome)
    if provider.supports_refresh and link.is_due(ACCESS_TOKEN_MARGIN):
        # An expired access token would be refused for being expired, not revoked.
        outcome = refresh(link_id, actor=actor, within=ACCESS_TOKEN_MARGIN)
        if outcome in (RefreshOutcome.GONE, RefreshOutcome.NEEDS_RECONNECT, RefreshOutcome.ERROR):
            return VerifyOutcome(outcome)
        link.refresh_from_db()
    tokens = link.token_set()
    try:
        identity = provider.identity(tokens)
    except ProviderUnavailable as outage:
        record_event(
            link, Kind.VERIFIED, actor=actor, outcome=Outcome.TRANSIENT, detail=str(outage)
        )
        raise
    except AccessRevoked as refusal:
        with transaction.atomic():
            link = LinkedAccount.objects.locked().get(pk=link_id)
            # Only the credentials we asked about were refused; a refresh may have replaced them.
            if link.status != Status.REVOKED and link.access_token == tokens.access_token:
                if link.status != Status.NEEDS_RECONNECT:  # its owner was told already
                    needs_reconnect(link, str(refusal), actor=actor)
                return VerifyOutcome.NEEDS_RECONNECT
        return VerifyOutcome.SKIPPED
    with transaction.atomic():
        link = LinkedAccount.objects.locked().get(pk=link_id)
        if link.status == Status.REVOKED:
            return VerifyOutcome.SKIPPED
        if identity.external_id != link.external_id:
            reason = messages.ANOTHER_ACCOUNT.format(provider=provider.display_name)
            mark_error(link, reason, actor=actor)
            return VerifyOutcome.ERROR
        changed = link.rename(identity.username)
        link.last_verified_at = timezone.now()
        link.save(update_fields=["username", "last_verified_at", "updated_at"])
        if changed or actor != "worker":
            record_event(link, Kind.VERIFIED, actor=actor, detail=f"as {identity.username}")
    return VerifyOutcome.VERIFIED
