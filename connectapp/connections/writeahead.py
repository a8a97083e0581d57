"""Rotated tokens written ahead of the database.

A provider that rotates refresh tokens kills the old one when it answers a refresh, so from
that moment the new tokens exist only in the refreshing process's memory until the link's row
is committed. `services.refresh` writes them ahead, encrypted, to the cache (Redis in
production, shared by every process) and, when the database write fails, the next refresh of
the link picks them up here, under the row lock, instead of spending the dead refresh token.
"""

import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta

from django.core.cache import cache

from connectapp.providers.base import TokenSet

from . import crypto
from .models import LinkedAccount

logger = logging.getLogger(__name__)

KEY = "connectapp:rotated-tokens:{}"
TTL = timedelta(days=30)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def keep(account_id: int, previous_refresh_token: str, tokens: TokenSet) -> None:
    """Write the new tokens ahead, encrypted, naming the refresh token they replace."""
    kept = {
        "replaces": _digest(previous_refresh_token),
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": tokens.expires_at.isoformat() if tokens.expires_at else None,
        "refresh_expires_at": (
            tokens.refresh_expires_at.isoformat() if tokens.refresh_expires_at else None
        ),
        "scopes": list(tokens.scopes),
    }
    try:
        cache.set(KEY.format(account_id), crypto.encrypt(json.dumps(kept)), TTL.total_seconds())
    except Exception:  # noqa: BLE001 - the database write follows; this is its safety net
        logger.warning("link %s: could not write the rotated tokens ahead to the cache", account_id)


def rescued(account: LinkedAccount) -> TokenSet | None:
    """Tokens a refresh of this link obtained but never saved, while its row still holds the
    refresh token they replaced (a reconnect or disconnect since makes them moot)."""
    live = (LinkedAccount.Status.ACTIVE, LinkedAccount.Status.NEEDS_RECONNECT)
    if account.status not in live or not account.refresh_token:
        return None
    try:
        kept = cache.get(KEY.format(account.pk))
        if not kept:
            return None
        kept = json.loads(crypto.decrypt(kept))
    except Exception:  # noqa: BLE001 - an unreadable entry is no entry
        logger.warning("link %s: could not read rotated tokens from the cache", account.pk)
        return None
    if not hmac.compare_digest(kept["replaces"], _digest(account.refresh_token)):
        return None
    moment = datetime.fromisoformat
    return TokenSet(
        access_token=kept["access_token"],
        refresh_token=kept["refresh_token"],
        expires_at=moment(kept["expires_at"]) if kept["expires_at"] else None,
        refresh_expires_at=(
            moment(kept["refresh_expires_at"]) if kept["refresh_expires_at"] else None
        ),
        scopes=tuple(kept["scopes"]),
    )


def forget(account_id: int) -> None:
    try:
        cache.delete(KEY.format(account_id))
    except Exception:  # noqa: BLE001 - a stale entry is ignored: it names a dead refresh token
        logger.warning("link %s: could not delete rotated tokens from the cache", account_id)
