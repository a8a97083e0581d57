"""API keys: made (shown once), checked, rate limited and revoked; and what each key used.

A key is `cak_<prefix>_<secret>`; only its SHA-256 digest is stored (a key has 256 random
bits, so a plain digest cannot be guessed back), with its prefix kept readable so an operator
can tell keys apart. The per-key rate limit is a fixed window counted on the shared Redis
(`infra.store`), so every web process shares one limit; without Redis it is per process.
"""

import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from connectapp import conf
from connectapp.exceptions import InvalidKeyRequest, UnknownProvider
from connectapp.providers import registry

from ..crypto import digest
from ..infra.store import client as redis_client
from ..models import ApiKey, ApiUsage, LinkedAccount

KEY_PREFIX = "cak_"
SCOPES = tuple(ApiKey.Scope.values)
#: `last_used_at` is written at most this often per key, to keep the hot path to reads.
LAST_USED_RESOLUTION = timedelta(minutes=1)
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_REDIS_PREFIX = "connectapp:apikey-rate:"


@dataclass(frozen=True)
class NewKey:
    """A key just made: `key` is the only time the secret exists outside its hash."""

    api_key: ApiKey
    key: str


def create_key(name: str, scopes: Iterable[str], providers: Iterable[str] = ()) -> NewKey:
    """Return a new key with these scopes, limited to `providers` (all when empty).

    Raises `InvalidKeyRequest` naming an unknown scope or provider.
    """
    scopes = list(dict.fromkeys(scope.strip() for scope in scopes if scope.strip()))
    providers = list(dict.fromkeys(item.strip() for item in providers if item.strip()))
    if not name.strip():
        raise InvalidKeyRequest("A key needs a name.")
    if not scopes:
        raise InvalidKeyRequest(f"A key needs at least one scope: {', '.join(SCOPES)}.")
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise InvalidKeyRequest(
            f"Unknown scope {', '.join(unknown)}; choose from {', '.join(SCOPES)}."
        )
    for provider in providers:
        try:
            registry.get(provider)
        except UnknownProvider:
            raise InvalidKeyRequest(f"Unknown provider {provider}.") from None
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        name=name.strip(),
        prefix=f"{KEY_PREFIX}{prefix}",
        key_hash=digest(key),
        scopes=scopes,
        providers=providers,
    )
    return NewKey(api_key=api_key, key=key)


def authenticate(key: str) -> ApiKey | None:
    """Return the live key `key` is, or None for an unknown or revoked one."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    api_key = ApiKey.objects.filter(key_hash=digest(key), revoked_at=None).first()
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or api_key.last_used_at < now - LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def revoke(api_key_id: int) -> bool:
    """Revoke a key from now on; return False when it was already revoked."""
    return bool(
        ApiKey.objects.filter(pk=api_key_id, revoked_at=None).update(revoked_at=timezone.now())
    )


# --- Rate limit -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Allowance:
    allowed: bool
    retry_after: int = 0


def _limit() -> tuple[int, int]:
    match = RATE.match(conf.value("API_RATE_LIMIT"))
    if not match or int(match[2]) == 0:
        raise ImproperlyConfigured(
            "CONNECTAPP_API_RATE_LIMIT must be requests/seconds, such as 600/60 (0/60 is off)"
        )
    return int(match[1]), int(match[2])


def take_request(api_key: ApiKey) -> Allowance:
    """Count one request of the key in the current window; refuse it past the limit."""
    count, window = _limit()
    if count == 0:
        return Allowance(True)
    now = time.time()
    slot = int(now // window)
    retry_after = max(1, int((slot + 1) * window - now + 0.999))
    client = redis_client()
    if client is None:
        used = _local.increment(api_key.pk, slot)
    else:
        name = f"{_REDIS_PREFIX}{api_key.pk}:{slot}"
        pipeline = client.pipeline()
        pipeline.incr(name)
        pipeline.expire(name, window + 5)
        used = pipeline.execute()[0]
    return Allowance(used <= count, 0 if used <= count else retry_after)


class _LocalWindows:
    """The same counting in one process, for running without Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[int, int], int] = {}

    def increment(self, key_id: int, slot: int) -> int:
        with self._lock:
            for stale in [entry for entry in self._counts if entry[1] < slot]:
                del self._counts[stale]
            self._counts[(key_id, slot)] = self._counts.get((key_id, slot), 0) + 1
            return self._counts[(key_id, slot)]


_local = _LocalWindows()


def reset_rate_limit(api_key: ApiKey) -> None:
    """Forget the key's counted requests (tests and the benchmark start from a clean slate)."""
    client = redis_client()
    if client is not None:
        names = list(client.scan_iter(f"{_REDIS_PREFIX}{api_key.pk}:*"))
        if names:
            client.delete(*names)
    _local._counts.clear()


# --- Usage ----------------------------------------------------------------------------------


def count_use(api_key: ApiKey, account: LinkedAccount, kind: str) -> None:
    """Add one to the key's count of `kind` (credentials, proxy) for the link."""
    now = timezone.now()
    rows = ApiUsage.objects.filter(key=api_key, account=account, kind=kind)
    if rows.update(count=F("count") + 1, last_at=now):
        return
    try:
        with transaction.atomic():
            ApiUsage.objects.create(key=api_key, account=account, kind=kind, count=1, last_at=now)
    except IntegrityError:
        # Another request made the row between our update and our insert.
        rows.update(count=F("count") + 1, last_at=now)
