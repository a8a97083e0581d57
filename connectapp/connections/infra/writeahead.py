"""Rotated tokens written ahead of the database.

A provider that rotates refresh tokens kills the old one when it answers a refresh, so from
that moment the new tokens exist only in the refreshing process's memory until the link's row
is committed. `services.refresh` writes them ahead, encrypted, to the shared store (`store`:
Redis, shared by every process) and, when the database write fails, the next refresh of the
link picks them up here, under the row lock, instead of spending the dead refresh token.

Round trips per refresh: the rescue check (`rescued`, under the row lock, before the provider
is asked) and the write (`keep`, completed before the row is saved) each need one of their own.
Deleting the entry once the row is committed (`forget`) need not hold anything up: it is
deferred to this process's next round trip, and deletes only the entry this process wrote, so
a newer entry of another process is never lost to it.
"""

import hmac
import json
import logging
import threading
from datetime import datetime, timedelta

from connectapp.providers.base import TokenSet

from .. import crypto
from ..models import LinkedAccount
from . import store

logger = logging.getLogger(__name__)

KEY = store.PREFIX + "rotated-tokens:{}"
TTL = timedelta(days=30)

# KEYS[1]: a link's entry; ARGV[1]: the entry this process wrote or read. Answers 1 when deleted.
_DELETE_IF_UNCHANGED = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# The entry each link's refresh in this thread wrote or rescued, for `forget` to delete.
_handled = threading.local()


def _remember(account_id: int, entry: bytes) -> None:
    if not hasattr(_handled, "entries"):
        _handled.entries = {}
    _handled.entries[account_id] = entry


def keep(account_id: int, previous_refresh_token: str, tokens: TokenSet) -> None:
    """Write the new tokens ahead, encrypted, naming the refresh token they replace; answer
    once the store holds them (or has failed to: the database write follows regardless)."""
    kept = {
        "replaces": crypto.digest(previous_refresh_token),
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": tokens.expires_at.isoformat() if tokens.expires_at else None,
        "refresh_expires_at": (
            tokens.refresh_expires_at.isoformat() if tokens.refresh_expires_at else None
        ),
        "scopes": list(tokens.scopes),
    }
    entry = crypto.encrypt(json.dumps(kept)).encode()
    key = KEY.format(account_id)
    try:
        if store.client() is None:
            store.local.set(key, entry, TTL.total_seconds())
        else:
            store.round_trip(lambda pipe: pipe.set(key, entry, ex=TTL))
    except Exception:  # noqa: BLE001 - the database write follows; this is its safety net
        logger.warning("link %s: could not write the rotated tokens ahead", account_id)
        return
    _remember(account_id, entry)


def rescued(account: LinkedAccount) -> TokenSet | None:
    """Return the tokens a refresh of this link obtained but never saved, while its row still
    holds the refresh token they replaced (a reconnect or disconnect since makes them moot)."""
    live = (LinkedAccount.Status.ACTIVE, LinkedAccount.Status.NEEDS_RECONNECT)
    if account.status not in live or not account.refresh_token:
        return None
    key = KEY.format(account.pk)
    try:
        if store.client() is None:
            entry = store.local.get(key)
        else:
            (entry,) = store.round_trip(lambda pipe: pipe.get(key))
        if not entry:
            return None
        kept = json.loads(crypto.decrypt(entry.decode()))
    except Exception:  # noqa: BLE001 - an unreadable entry is no entry
        logger.warning("link %s: could not read rotated tokens from the store", account.pk)
        return None
    if not hmac.compare_digest(kept["replaces"], crypto.digest(account.refresh_token)):
        return None
    _remember(account.pk, entry)
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
    """Delete the entry this thread wrote or rescued for the link, now that its row holds the
    tokens: with the process's next round trip, and only while the entry is still that one."""
    entry = getattr(_handled, "entries", {}).pop(account_id, None)
    if entry is None:
        return
    key = KEY.format(account_id)
    if store.client() is None:
        store.local.update(key, lambda current: None if current == entry else current)
    else:
        store.defer(_DELETE_IF_UNCHANGED, [key], [entry])
