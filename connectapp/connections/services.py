"""Every write to a link goes through here: connect, complete, refresh, verify, disconnect.

Views, admin actions, Celery tasks and management commands are thin callers of these
functions. Locks are taken here, at the call site, with `select_for_update()` inside
`transaction.atomic()`.
"""

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from functools import partial
from typing import Any

import requests
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from connectapp.providers import registry
from connectapp.providers.base import (
    AccessRevoked,
    FlowError,
    Identity,
    Provider,
    ProviderError,
    ProviderUnavailable,
    TokenSet,
    UnknownProvider,
)

from . import crypto, events_service, notifications, selectors, writeahead
from .models import SECRET_FIELDS, ConnectionEvent, LinkedAccount

logger = logging.getLogger(__name__)

FLOWS_SESSION_KEY = "connectapp.flows"
MAX_PENDING_FLOWS = 10
#: A token this close to its expiry is refreshed before it is handed out.
ACCESS_TOKEN_MARGIN = timedelta(minutes=5)

Status = LinkedAccount.Status
Kind = ConnectionEvent.Kind
Outcome = ConnectionEvent.Outcome


class AccountLinkedElsewhere(FlowError):
    status_code = 409

    def __init__(self, provider: Provider):
        super().__init__(
            f"This {provider.display_name} account is already connected to another user here. "
            f"Disconnect it there first, or connect a different {provider.display_name} account."
        )


class ProviderNotConfigured(FlowError):
    status_code = 404

    def __init__(self, provider: Provider):
        super().__init__(f"{provider.display_name} is not configured on this site.")


def record_event(
    account: LinkedAccount, kind: str, *, actor: str, outcome: str = Outcome.OK, detail: str = ""
) -> ConnectionEvent:
    with transaction.atomic(savepoint=False):  # the history entry and its announcement
        history = ConnectionEvent.objects.create(
            account=account, kind=kind, outcome=outcome, detail=detail[:2000], actor=actor
        )
        events_service.emit(account, kind, outcome, actor=actor, history=history)
    return history


def _username(identity: Identity) -> str:
    """The account's name as stored: a provider may answer one longer than the column."""
    return identity.username[: LinkedAccount._meta.get_field("username").max_length]


def tokens_of(account: LinkedAccount) -> TokenSet:
    return TokenSet(
        access_token=account.access_token,
        token_secret=account.token_secret,
        refresh_token=account.refresh_token,
        expires_at=account.expires_at,
        refresh_expires_at=account.refresh_expires_at,
        scopes=tuple(account.scopes),
    )


def _store_tokens(account: LinkedAccount, tokens: TokenSet) -> None:
    account.access_token = tokens.access_token
    account.token_secret = tokens.token_secret
    account.expires_at = tokens.expires_at
    if tokens.refresh_token:
        account.refresh_token = tokens.refresh_token
        account.refresh_expires_at = tokens.refresh_expires_at
    if tokens.scopes:
        account.scopes = list(tokens.scopes)


# --- Connecting ---------------------------------------------------------------------------


def _flow_id(flow_key: str) -> str:
    """Sessions hold a digest of the flow key, not the key (a request token is a credential)."""
    return hashlib.sha256(flow_key.encode()).hexdigest()


def _live_flows(session: SessionBase) -> dict[str, dict[str, Any]]:
    oldest = time.time() - settings.CONNECTAPP_FLOW_TTL.total_seconds()
    flows = session.get(FLOWS_SESSION_KEY, {})
    return {key: flow for key, flow in flows.items() if flow["started"] >= oldest}


def begin_connect(session: SessionBase, user, provider_name: str, callback_url: str) -> str:
    """Start a flow bound to this browser session; answer the URL to send the browser to."""
    provider = registry.get(provider_name)
    if not provider.configured:
        raise ProviderNotConfigured(provider)
    authorization = provider.begin(callback_url)
    flows = _live_flows(session)
    while len(flows) >= MAX_PENDING_FLOWS:
        flows.pop(min(flows, key=lambda key: flows[key]["started"]))
    flows[_flow_id(authorization.flow_key)] = {
        "provider": provider.name,
        "user": user.pk,
        "started": time.time(),
        "pending": crypto.encrypt(json.dumps(authorization.pending)),
    }
    session[FLOWS_SESSION_KEY] = flows
    return authorization.url


def _pop_flow_once(session: SessionBase, flow_id: str) -> dict[str, Any] | None:
    """Take a flow out of the stored session under its row lock, and save at once.

    Two callbacks of one browser session racing (a double submit at the provider) both loaded
    the session before either saved it; reading the stored copy under the lock lets only the
    first take the flow, so a code or verifier is never exchanged twice.
    """
    if session.session_key is None:
        return None
    with transaction.atomic():
        stored = (
            session.model.objects.select_for_update()
            .filter(session_key=session.session_key)
            .first()
        )
        flows = session.decode(stored.session_data).get(FLOWS_SESSION_KEY, {}) if stored else {}
        flow = flows.pop(flow_id, None)
        if flow is not None:
            session[FLOWS_SESSION_KEY] = flows
            session.save()
    return flow


def _take_flow(session: SessionBase, user, provider: Provider, params: Mapping[str, str]):
    """Remove the callback's flow from the session (it is single-use) and answer its secrets."""
    flow_key = provider.flow_key(params)
    if not flow_key:
        raise FlowError(
            f"The answer from {provider.display_name} is missing what identifies this "
            "connection attempt. Please start again."
        )
    flow = _pop_flow_once(session, _flow_id(flow_key))
    if flow is None:
        raise FlowError(
            "This connection attempt is unknown: it was already used, or it was started in "
            "another browser session. Please start again."
        )
    if flow["provider"] != provider.name or flow["user"] != user.pk:
        raise FlowError("This connection attempt belongs to someone else. Please start again.")
    if flow["started"] < time.time() - settings.CONNECTAPP_FLOW_TTL.total_seconds():
        raise FlowError("This connection attempt has expired. Please start again.")
    try:
        return json.loads(crypto.decrypt(flow["pending"]))
    except crypto.DecryptionError:
        # Started under an encryption key that has since been removed from the list.
        raise FlowError(
            "This connection attempt can no longer be read. Please start again."
        ) from None


def complete_connect(
    session: SessionBase, user, provider_name: str, params: Mapping[str, str], callback_url: str
) -> LinkedAccount:
    """Finish a flow from its callback: exchange, identify, then create or update the link.

    Raises `FlowDeclined`, `FlowError`, `AccountLinkedElsewhere`, `ProviderUnavailable` or
    `AccessRevoked`; in each case nothing is stored.
    """
    provider = registry.get(provider_name)
    pending = _take_flow(session, user, provider, params)
    tokens = provider.finish(params, pending, callback_url)
    identity = provider.identity(tokens)
    actor = f"user:{user.get_username()}"
    try:
        with transaction.atomic():
            # The secrets being replaced are not read: a reconnect also mends a link whose
            # secrets no configured key opens any more.
            account = (
                LinkedAccount.objects.select_for_update()
                .defer(*SECRET_FIELDS)
                .filter(provider=provider.name, external_id=identity.external_id)
                .exclude(status=Status.REVOKED)
                .first()
            )
            if account is not None and account.user_id != user.pk:
                raise AccountLinkedElsewhere(provider)
            if account is None:
                account = (
                    LinkedAccount.objects.select_for_update()
                    .defer(*SECRET_FIELDS)
                    .filter(user=user, provider=provider.name, external_id=identity.external_id)
                    .order_by("-updated_at")
                    .first()
                )
            kind = Kind.RECONNECTED if account is not None else Kind.CONNECTED
            if account is None:
                account = LinkedAccount(
                    user=user, provider=provider.name, external_id=identity.external_id
                )
            account.username = _username(identity)
            account.refresh_token = ""
            account.refresh_expires_at = None
            _store_tokens(account, tokens)
            account.status = Status.ACTIVE
            now = timezone.now()
            account.last_verified_at = now
            account.last_refreshed_at = now if provider.supports_refresh else None
            account.last_error = ""
            account.last_error_at = None
            account.save()
            record_event(account, kind, actor=actor, detail=f"as {identity.username}")
    except IntegrityError:
        # Another user linked this external account between our read and our write.
        raise AccountLinkedElsewhere(provider) from None
    logger.info("link %s: %s %s as %s", account.pk, kind, provider.name, identity.username)
    return account


# --- Keeping links alive ------------------------------------------------------------------


def _mark_needs_reconnect(
    account: LinkedAccount, reason: str, *, actor: str, outcome: str = Outcome.FAILED
) -> None:
    """Within the caller's transaction and lock. `outcome` is FAILED when a provider said no."""
    now = timezone.now()
    account.status = Status.NEEDS_RECONNECT
    account.last_error = reason
    account.last_error_at = now
    account.save(update_fields=["status", "last_error", "last_error_at", "updated_at"])
    record_event(account, Kind.NEEDS_RECONNECT, actor=actor, outcome=outcome, detail=reason)
    transaction.on_commit(lambda: notifications.needs_reconnect(account))
    logger.warning("link %s needs reconnect: %s", account.pk, reason)


def is_due(account: LinkedAccount, *, within: timedelta | None = None) -> bool:
    if account.expires_at is None:
        return False
    window = settings.CONNECTAPP_REFRESH_WINDOW if within is None else within
    return account.expires_at <= timezone.now() + window


def refresh(
    account_id: int,
    *,
    actor: str = "worker",
    force: bool = False,
    within: timedelta | None = None,
) -> str:
    """Refresh one link's access token; at most one refresh of a link runs at a time.

    The row lock is held across the provider call, so a rotated refresh token is saved before
    anyone else can read the old one. Whether the link is due (its token expires `within`, by
    default the refresh window) is decided on the row read under the lock, so callers holding
    a stale copy cause no extra refresh; `force` refreshes even a link not due. Answers what
    happened: `refreshed`, `not_due`,
    `already_refreshed`, `skipped`, `gone` or `needs_reconnect`; raises `ProviderUnavailable`
    for the caller to retry later, with the link untouched.

    A rotated refresh token is written ahead to the cache before the row is saved, and saved
    again when the database fails (see `writeahead`): a database error at that moment
    raises only when the new tokens could not be saved at all, and the next refresh of the
    link saves them from the cache instead of spending the dead refresh token.
    """
    requested_at = timezone.now()
    rotated: TokenSet | None = None
    try:
        with transaction.atomic():
            account = LinkedAccount.objects.select_for_update().filter(pk=account_id).first()
            if account is None:
                return "gone"
            provider = registry.get(account.provider)
            rescued = writeahead.rescued(account) if provider.supports_refresh else None
            if rescued is not None:
                _save_refreshed(account, rescued, actor=actor, detail=RESCUED)
                return "refreshed"
            if account.status != Status.ACTIVE or not provider.supports_refresh:
                return "skipped"
            if account.last_refreshed_at and account.last_refreshed_at >= requested_at:
                return "already_refreshed"
            if not force and not is_due(account, within=within):
                return "not_due"
            previous = account.refresh_token
            try:
                tokens = provider.refresh(tokens_of(account))
            except AccessRevoked as refusal:
                _mark_needs_reconnect(account, str(refusal), actor=actor)
                return "needs_reconnect"
            except ProviderUnavailable as outage:
                unavailable = outage
            else:
                if tokens.refresh_token:
                    # The old refresh token is dead at the provider from now on.
                    rotated = tokens
                    writeahead.keep(account.pk, previous, tokens)
                _save_refreshed(account, tokens, actor=actor)
                return "refreshed"
    except DatabaseError:
        if rotated is None:
            raise
        return _save_after_database_error(account_id, previous, rotated, actor=actor)
    record_event(
        account, Kind.REFRESHED, actor=actor, outcome=Outcome.TRANSIENT, detail=str(unavailable)
    )
    raise unavailable


def _save_refreshed(
    account: LinkedAccount, tokens: TokenSet, *, actor: str, detail: str = ""
) -> None:
    """Within the caller's transaction and lock."""
    _store_tokens(account, tokens)
    account.status = Status.ACTIVE
    account.last_refreshed_at = timezone.now()
    account.last_error = ""
    account.last_error_at = None
    account.refresh_queued_at = None
    account.save()
    record_event(account, Kind.REFRESHED, actor=actor, detail=detail)
    if tokens.refresh_token:
        transaction.on_commit(partial(writeahead.forget, account.pk))
    logger.info("link %s: refreshed %s token", account.pk, account.provider)


#: Pauses between the attempts to save rotated tokens after a database error.
SAVE_RETRY_DELAYS = (0.05, 0.25, 1.0)
RESCUED = "new tokens saved after a database error"


def _save_after_database_error(
    account_id: int, previous_refresh_token: str, tokens: TokenSet, *, actor: str
) -> str:
    """The provider rotated the refresh token and the database refused the new one: save it
    again now, in a new transaction (on a new connection when the old one broke)."""
    logger.error("link %s: saving the refreshed tokens failed; trying again", account_id)
    failure: DatabaseError | None = None
    for delay in SAVE_RETRY_DELAYS:
        time.sleep(delay)
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
        try:
            with transaction.atomic():
                account = LinkedAccount.objects.select_for_update().filter(pk=account_id).first()
                if account is None or account.status == Status.REVOKED:
                    return "gone" if account is None else "skipped"
                if account.refresh_token == tokens.refresh_token:
                    return "refreshed"  # the first save was committed after all
                if account.refresh_token != previous_refresh_token:
                    return "skipped"  # reconnected meanwhile: these tokens are moot
                _save_refreshed(account, tokens, actor=actor, detail=RESCUED)
                return "refreshed"
        except DatabaseError as error:
            failure = error
    logger.error(
        "link %s: the refreshed tokens could not be saved; they wait encrypted in the cache "
        "for the link's next refresh",
        account_id,
    )
    raise failure


def refresh_queued(account_id: int) -> str:
    """A worker's `refresh` of a link the sweep queued; the queued marker ends with it.

    A refresh's own save clears the marker; any other answer clears it here, so the sweep may
    queue the link again when it is due again. An outage renews it instead: the task's retry
    is still coming, and the sweep must not queue a second one meanwhile.
    """
    try:
        outcome = refresh(account_id)
    except ProviderUnavailable:
        LinkedAccount.objects.filter(pk=account_id).update(refresh_queued_at=timezone.now())
        raise
    if outcome != "refreshed":
        LinkedAccount.objects.filter(pk=account_id, refresh_queued_at__isnull=False).update(
            refresh_queued_at=None
        )
    return outcome


def claim_due_refreshes(
    provider_name: str, window: timedelta, *, batch_size: int, limit: int | None = None
) -> Iterator[list[int]]:
    """Mark the provider's links due for a refresh as queued, a batch at a time, soonest expiry
    first; yields each batch's ids once its marks are committed, for the caller to enqueue.

    Each batch is one indexed query (its partial index holds only unqueued active links, so
    links already queued cost nothing) and one UPDATE; `SKIP LOCKED` lets two sweeps, or a
    sweep and a refresh in progress, pass each other. A link stays marked until its refresh
    ends. A mark older than `CONNECTAPP_REFRESH_LEASE` belongs to a message that was lost (a
    crash between this commit and the enqueue, a purged broker): it is released first, so
    the link is queued again.
    """
    now = timezone.now()
    LinkedAccount.objects.filter(
        provider=provider_name, refresh_queued_at__lt=now - settings.CONNECTAPP_REFRESH_LEASE
    ).update(refresh_queued_at=None)
    due = (
        selectors.due_for_refresh([provider_name], window)
        .filter(refresh_queued_at__isnull=True)
        .order_by("expires_at")
    )
    claimed = 0
    while limit is None or claimed < limit:
        size = batch_size if limit is None else min(batch_size, limit - claimed)
        with transaction.atomic():
            ids = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:size])
            if not ids:
                return
            LinkedAccount.objects.filter(pk__in=ids).update(refresh_queued_at=now)
        claimed += len(ids)
        yield ids


def verify(account_id: int, *, actor: str = "worker") -> str:
    """Ask the provider who the link's credentials belong to.

    Answers `verified`, `skipped`, `gone` or `needs_reconnect`; raises `ProviderUnavailable`
    with the link untouched.
    """
    account = LinkedAccount.objects.filter(pk=account_id).first()
    if account is None:
        return "gone"
    if account.status == Status.REVOKED:
        return "skipped"
    provider = registry.get(account.provider)
    if provider.app_level:
        # The site's own credentials are checked by asking for a token with them.
        outcome = refresh(account_id, actor=actor, force=True)
        return "verified" if outcome in ("refreshed", "already_refreshed") else outcome
    if provider.supports_refresh and is_due(account, within=ACCESS_TOKEN_MARGIN):
        # An expired access token would be refused for being expired, not revoked.
        outcome = refresh(account_id, actor=actor, within=ACCESS_TOKEN_MARGIN)
        if outcome in ("gone", "needs_reconnect"):
            return outcome
        account.refresh_from_db()
    tokens = tokens_of(account)
    try:
        identity = provider.identity(tokens)
    except ProviderUnavailable as outage:
        record_event(
            account, Kind.VERIFIED, actor=actor, outcome=Outcome.TRANSIENT, detail=str(outage)
        )
        raise
    except AccessRevoked as refusal:
        with transaction.atomic():
            account = LinkedAccount.objects.select_for_update().get(pk=account_id)
            # Only the credentials we asked about were refused; a refresh may have replaced them.
            if account.status != Status.REVOKED and account.access_token == tokens.access_token:
                if account.status != Status.NEEDS_RECONNECT:  # its owner was told already
                    _mark_needs_reconnect(account, str(refusal), actor=actor)
                return "needs_reconnect"
        return "skipped"
    with transaction.atomic():
        account = LinkedAccount.objects.select_for_update().get(pk=account_id)
        if account.status == Status.REVOKED:
            return "skipped"
        changed = account.username != _username(identity)
        account.username = _username(identity)
        account.last_verified_at = timezone.now()
        account.save(update_fields=["username", "last_verified_at", "updated_at"])
        if changed or actor != "worker":
            record_event(account, Kind.VERIFIED, actor=actor, detail=f"as {identity.username}")
    return "verified"


def disconnect(account_id: int, *, actor: str) -> bool:
    """Forget a link's credentials here, then revoke them at the provider where it can.

    The link is kept, marked disconnected, so its history stays readable; its event says
    what became of the tokens at the provider. Answers False when it was already disconnected.
    """
    with transaction.atomic():
        account = LinkedAccount.objects.select_for_update().filter(pk=account_id).first()
        if account is None or account.status == Status.REVOKED:
            return False
        tokens = tokens_of(account)
        for name in SECRET_FIELDS:
            setattr(account, name, "")
        account.expires_at = None
        account.refresh_expires_at = None
        account.status = Status.REVOKED
        account.save()
        event = record_event(account, Kind.DISCONNECTED, actor=actor)
    outcome = _revoke_at_provider(account, tokens)
    ConnectionEvent.objects.filter(pk=event.pk).update(detail=outcome)
    return True


def _revoke_at_provider(account: LinkedAccount, tokens: TokenSet) -> str:
    """Only after the local disconnect is saved, and no failure gets past here: answers what
    happened, for the link's history."""
    try:
        provider = registry.get(account.provider)
        if not provider.offers_revocation:
            return "not revoked at the provider, which offers no revocation"
        provider.revoke(tokens)
    except ProviderError as failure:  # its message is safe to log: it never holds a secret
        logger.warning(
            "link %s: revocation at %s failed: %s", account.pk, account.provider, failure
        )
        return f"revocation at the provider failed: {failure}"
    except Exception:  # noqa: BLE001 - revocation at the provider is a courtesy
        logger.warning("link %s: revocation at %s failed", account.pk, account.provider)
        return "revocation at the provider failed"
    return "revoked at the provider"


# --- Credentials for the deploying site's code --------------------------------------------


def get_access_token(account: LinkedAccount | str) -> str:
    """A valid access token for the link, refreshed first when it is expired or about to be.

    Given a provider's name instead of a link, the site's own token for that app-level
    (client credentials) provider: see `app_access_token`.

    For the deploying site's code. `account` is reloaded from the database. The refresh runs
    under the link's row lock, so any number of concurrent callers cause one token request.
    Raises `AccessRevoked` when the link's user has to reconnect, and `ProviderUnavailable`
    only when the token has run out and the provider cannot renew it now (a token that is
    merely close to its expiry is still handed out during an outage).
    """
    if isinstance(account, str):
        return app_access_token(account)
    account.refresh_from_db()
    if account.status != Status.ACTIVE:
        raise AccessRevoked(f"{account} is {account.get_status_display().lower()}")
    if is_due(account, within=ACCESS_TOKEN_MARGIN):
        try:
            refresh(account.pk, actor="on-demand", within=ACCESS_TOKEN_MARGIN)
        except ProviderUnavailable:
            if account.expires_at <= timezone.now():
                raise
        account.refresh_from_db()
        if account.status != Status.ACTIVE:
            raise AccessRevoked(f"{account} needs to be reconnected")
    return account.access_token


def authorized_session(account: LinkedAccount | str) -> requests.Session:
    """A `requests` session that signs (OAuth 1.0a) or authorizes (Bearer) every request.

    Given an app-level provider's name, the session carries the site's own token.
    """
    if isinstance(account, str):
        token = app_access_token(account)
        return registry.get(account).session(TokenSet(access_token=token))
    provider = registry.get(account.provider)
    if provider.supports_refresh:
        get_access_token(account)
    else:
        account.refresh_from_db()  # a disconnect since the caller read it forgot the tokens
    if account.status != Status.ACTIVE:
        raise AccessRevoked(f"{account} is {account.get_status_display().lower()}")
    return provider.session(tokens_of(account))


# --- Operations ----------------------------------------------------------------------------


def rotate_keys() -> int:
    """Re-encrypt every stored secret under the first key; answers how many links changed."""
    changed = 0
    ids = LinkedAccount.objects.values_list("pk", flat=True).order_by("pk")
    for account_id in ids.iterator(chunk_size=500):
        with transaction.atomic():
            rows = LinkedAccount.objects.filter(pk=account_id)
            try:
                raw = rows.select_for_update().values(*SECRET_FIELDS).first()
            except crypto.DecryptionError as problem:
                raise crypto.DecryptionError(f"link {account_id}: {problem}") from None
            if raw is None:
                continue
            present = [name for name in SECRET_FIELDS if raw[name]]
            if not present:
                continue
            # `values()` already decrypted; saving re-encrypts under the first key.
            account = LinkedAccount(pk=account_id, **raw)
            account.save(update_fields=present)
            changed += 1
    return changed


def mark_needs_reconnect(account_id: int, reason: str, *, actor: str) -> bool:
    """Ask the link's owner to connect again (an admin's call when the credentials are suspect).

    Answers False when the link is gone, disconnected or already waiting for a reconnect.
    """
    with transaction.atomic():
        account = LinkedAccount.objects.select_for_update().filter(pk=account_id).first()
        if account is None or account.status in (Status.REVOKED, Status.NEEDS_RECONNECT):
            return False
        _mark_needs_reconnect(account, reason, actor=actor, outcome=Outcome.OK)
    return True


# --- App-level connections (client credentials) -------------------------------------------


def _app_link(provider: Provider) -> LinkedAccount:
    """The site's one link to an app-level provider, made (without a token) on first use."""
    account = LinkedAccount.objects.filter(user=None, provider=provider.name).first()
    if account is not None:
        return account
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


def _usable(account: LinkedAccount, provider: Provider) -> bool:
    """A cached token for the current app credentials that is not about to expire."""
    return (
        account.status == Status.ACTIVE
        and bool(account.access_token)
        and account.external_id == provider.client_id
        and not is_due(account, within=ACCESS_TOKEN_MARGIN)
    )


def app_access_token(provider_name: str, *, actor: str = "on-demand") -> str:
    """This site's own access token for an app-level provider, obtained on first use.

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
    account = _app_link(provider)
    if _usable(account, provider):
        return account.access_token
    with transaction.atomic():
        account = LinkedAccount.objects.select_for_update().get(pk=account.pk)
        if _usable(account, provider):
            return account.access_token  # another process obtained it while we waited
        if account.last_refreshed_at is None:
            kind = Kind.CONNECTED
        else:
            kind = Kind.REFRESHED if account.status == Status.ACTIVE else Kind.RECONNECTED
        try:
            tokens = provider.refresh(tokens_of(account))
        except AccessRevoked as refusal:
            if account.status != Status.NEEDS_RECONNECT:
                _mark_needs_reconnect(account, str(refusal), actor=actor)
            problem: ProviderError = refusal
        except ProviderUnavailable as outage:
            problem = outage
            account.last_error = str(outage)
            account.last_error_at = timezone.now()
            account.save(update_fields=["last_error", "last_error_at", "updated_at"])
            record_event(account, kind, actor=actor, outcome=Outcome.TRANSIENT, detail=str(outage))
        else:
            account.refresh_token = ""
            account.refresh_expires_at = None
            _store_tokens(account, tokens)
            account.external_id = provider.client_id
            account.username = provider.display_name
            account.status = Status.ACTIVE
            account.last_refreshed_at = account.last_verified_at = timezone.now()
            account.last_error = ""
            account.last_error_at = None
            account.save()
            record_event(account, kind, actor=actor)
            logger.info("app link %s: obtained a %s token", account.pk, provider.name)
            return account.access_token
    still_valid = (
        isinstance(problem, ProviderUnavailable)
        and account.status == Status.ACTIVE
        and account.access_token
        and account.external_id == provider.client_id
        and (account.expires_at is None or account.expires_at > timezone.now())
    )
    if still_valid:
        return account.access_token
    raise problem
