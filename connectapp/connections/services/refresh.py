"""Refreshing one link's access token, and saving the rotated tokens when the database fails.

The row lock is held across the provider call, so a rotated refresh token is saved before
anyone else can read the old one.
"""

import logging
import time
from datetime import timedelta
from enum import StrEnum
from functools import partial

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from connectapp import conf
from connectapp.exceptions import AccessRevoked, ProviderError, ProviderUnavailable
from connectapp.providers import registry
from connectapp.providers.base import Provider, TokenSet

from .. import messages, statements
from ..infra import writeahead
from ..models import LinkedAccount
from .events import Kind, Outcome, mark_error, needs_reconnect, record_event

logger = logging.getLogger(__name__)

#: A token this close to its expiry is refreshed before it is handed out.
ACCESS_TOKEN_MARGIN = timedelta(minutes=5)
#: Pauses between the attempts to save rotated tokens after a database error.
SAVE_RETRY_DELAYS = (0.05, 0.25, 1.0)
RESCUED = "new tokens saved after a database error"


class RefreshOutcome(StrEnum):
    """What `refresh` did; tasks, admin, the command and the metrics read it."""

    REFRESHED = "refreshed"
    NOT_DUE = "not_due"
    ALREADY_REFRESHED = "already_refreshed"
    SKIPPED = "skipped"
    GONE = "gone"
    NEEDS_RECONNECT = "needs_reconnect"
    ERROR = "error"


def refresh(
    link_id: int,
    *,
    actor: str = "worker",
    force: bool = False,
    within: timedelta | None = None,
) -> RefreshOutcome:
    """Refresh one link's access token and return what happened; one refresh of a link at a time.

    Whether the link is due (its token expires `within`, by default the refresh window) is
    decided on the row read under the lock, so callers holding a stale copy cause no extra
    refresh; `force` refreshes even a link not due, unless it has no refresh token (it stays
    active until its access token expires, and needs a reconnect then). Raises
    `ProviderUnavailable` for the caller to retry later, with the link untouched.

    A rotated refresh token is written ahead to the shared store before the row is saved, and saved
    again when the database fails (see `writeahead`): a database error at that moment
    raises only when the new tokens could not be saved at all, and the next refresh of the
    link saves them from the store instead of spending the dead refresh token.
    """
    requested_at = timezone.now()
    window = conf.value("REFRESH_WINDOW_SECONDS") if within is None else within
    rotated: TokenSet | None = None
    try:
        with transaction.atomic():
            # The owner comes along, so the event announcing the refresh names them without
            # a query of its own after the commit.
            link = statements.lock_link(link_id)
            if link is None:
                return RefreshOutcome.GONE
            provider = registry.get(link.provider)
            rescued = writeahead.rescued(link) if provider.supports_refresh else None
            if rescued is not None:
                _save_refreshed(link, rescued, actor=actor, detail=RESCUED)
                return RefreshOutcome.REFRESHED
            if link.status != LinkedAccount.Status.ACTIVE or not provider.supports_refresh:
                return RefreshOutcome.SKIPPED
            if link.last_refreshed_at and link.last_refreshed_at >= requested_at:
                return RefreshOutcome.ALREADY_REFRESHED
            if not (force and link.renewable) and not link.is_due(window):
                return RefreshOutcome.NOT_DUE
            previous = link.refresh_token
            try:
                tokens = provider.refresh(link.token_set())
            except AccessRevoked as refusal:
                needs_reconnect(link, str(refusal), actor=actor)
                return RefreshOutcome.NEEDS_RECONNECT
            except ProviderUnavailable as outage:
                unavailable = outage
            else:
                if _for_another_account(provider, link, tokens):
                    reason = messages.ANOTHER_ACCOUNT.format(provider=provider.display_name)
                    mark_error(link, reason, actor=actor)
                    return RefreshOutcome.ERROR
                if tokens.refresh_token:
                    # The old refresh token is dead at the provider from now on.
                    rotated = tokens
                    writeahead.keep(link.pk, previous, tokens)
                _save_refreshed(link, tokens, actor=actor)
                return RefreshOutcome.REFRESHED
    except DatabaseError:
        if rotated is None:
            raise
        return _save_after_database_error(link_id, previous, rotated, actor=actor)
    record_event(
        link, Kind.REFRESHED, actor=actor, outcome=Outcome.TRANSIENT, detail=str(unavailable)
    )
    raise unavailable


def _for_another_account(provider: Provider, link: LinkedAccount, tokens: TokenSet) -> bool:
    """Return whether the provider says the new tokens are another account's.

    Asked of every per-user provider (each has an identity endpoint). An identity it cannot
    tell now is no mismatch: new tokens are saved rather than lost, and checked next time.
    """
    if provider.app_level:
        return False
    try:
        identity = provider.identity(tokens)
    except ProviderError as problem:
        logger.warning("link %s: identity not checked after its refresh: %s", link.pk, problem)
        return False
    return identity.external_id != link.external_id


def _save_refreshed(link: LinkedAccount, tokens: TokenSet, *, actor: str, detail: str = "") -> None:
    """Within the caller's transaction and lock. Only the columns that changed are written, none
    of them indexed on a routine refresh, so the UPDATE is HOT; it goes with the history entry
    and its announcement in one statement. The new expiry reaches the sweep's
    `RefreshSchedule` (and ends its mark) by the database's trigger."""
    changed = link.mark_active(tokens)
    link.last_refreshed_at = timezone.now()
    saving = [*changed, "last_refreshed_at", "updated_at"]
    record_event(link, Kind.REFRESHED, actor=actor, detail=detail, saving=saving)
    if tokens.refresh_token:
        transaction.on_commit(partial(writeahead.forget, link.pk))
    logger.info("link %s: refreshed %s token", link.pk, link.provider)


def _save_after_database_error(
    link_id: int, previous_refresh_token: str, tokens: TokenSet, *, actor: str
) -> RefreshOutcome:
    """The provider rotated the refresh token and the database refused the new one: save it
    again now, in a new transaction (on a new connection when the old one broke)."""
    logger.error("link %s: saving the refreshed tokens failed; trying again", link_id)
    failure: DatabaseError | None = None
    for delay in SAVE_RETRY_DELAYS:
        time.sleep(delay)
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
        try:
            with transaction.atomic():
                link = LinkedAccount.objects.locked().filter(pk=link_id).first()
                if link is None:
                    return RefreshOutcome.GONE
                if link.status == LinkedAccount.Status.REVOKED:
                    return RefreshOutcome.SKIPPED
                if link.refresh_token == tokens.refresh_token:
                    return RefreshOutcome.REFRESHED  # the first save was committed after all
                if link.refresh_token != previous_refresh_token:
                    return RefreshOutcome.SKIPPED  # reconnected meanwhile: these tokens are moot
                _save_refreshed(link, tokens, actor=actor, detail=RESCUED)
                return RefreshOutcome.REFRESHED
        except DatabaseError as error:
            failure = error
    logger.error(
        "link %s: the refreshed tokens could not be saved; they wait encrypted in the shared store "
        "for the link's next refresh",
        link_id,
    )
    raise failure
