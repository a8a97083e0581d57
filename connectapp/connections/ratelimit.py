"""Per-provider request rates, shared by every worker, so a large sweep slows down on our side
instead of being throttled (HTTP 429) by the provider.

`CONNECTAPP_RATE_LIMITS` says how many requests a provider takes per period (`discogs=60/m`).
Requests are spaced evenly (GCRA: one slot every period/count), so no window of that period
ever holds more than `count` of them. The next free slot lives in Redis and is taken by one
atomic script using Redis' own clock, so workers on any number of machines share one limit.
Without Redis the limit is kept per process.
"""

import math
import re
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .shared_state import redis_client

KEY_PREFIX = "connectapp:ratelimit:"
PERIODS = {"s": 1, "m": 60, "h": 3600}
RATE = re.compile(r"^\s*(\d+)\s*/\s*([smh])\s*$")

# KEYS[1]: the provider's next free slot (ms). ARGV: slot interval (ms), longest wait (ms).
# Answers {1, wait ms} with the slot taken, or {0, wait ms} with nothing taken.
_TAKE_SLOT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local interval = tonumber(ARGV[1])
local next_slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if next_slot < now then next_slot = now end
local wait = next_slot - now
if wait > tonumber(ARGV[2]) then return {0, wait} end
local following = next_slot + interval
redis.call('SET', KEYS[1], string.format('%d', following), 'PX', following - now + 1000)
return {1, wait}
"""


@dataclass(frozen=True)
class Rate:
    count: int
    period: float

    @property
    def interval(self) -> float:
        """Seconds between two requests."""
        return self.period / self.count


def parse(text: str) -> Rate:
    match = RATE.match(text)
    if not match or int(match[1]) == 0:
        raise ImproperlyConfigured(
            f"CONNECTAPP_RATE_LIMITS: {text!r} is not a rate such as 60/m (count/s, /m or /h)"
        )
    return Rate(int(match[1]), PERIODS[match[2]])


def rate_for(provider: str) -> Rate | None:
    """The provider's configured rate, or None when it is not limited here."""
    text = settings.CONNECTAPP_RATE_LIMITS.get(provider)
    return parse(text) if text else None


def wait_turn(provider: str, *, max_wait: float) -> float:
    """Wait for the provider's next request slot and answer 0, sleeping at most `max_wait`.

    When the next free slot is further away than that, nothing is taken and the answer is how
    many seconds until it: the caller should come back then instead of holding a worker.
    """
    rate = rate_for(provider)
    if rate is None:
        return 0.0
    taken, wait = _take_slot(provider, rate, max_wait)
    if not taken:
        return max(wait, 0.001)
    if wait > 0:
        time.sleep(wait)
    return 0.0


def _take_slot(provider: str, rate: Rate, max_wait: float) -> tuple[bool, float]:
    client = redis_client()
    if client is None:
        return _local.take(provider, rate, max_wait)
    taken, wait_ms = client.eval(
        _TAKE_SLOT,
        1,
        KEY_PREFIX + provider,
        math.ceil(rate.interval * 1000),
        math.floor(max_wait * 1000),
    )
    return bool(taken), wait_ms / 1000


class _LocalSlots:
    """The same arithmetic in one process, for running without Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def take(self, provider: str, rate: Rate, max_wait: float) -> tuple[bool, float]:
        with self._lock:
            now = time.monotonic()
            next_slot = max(self._next.get(provider, now), now)
            wait = next_slot - now
            if wait > max_wait:
                return False, wait
            self._next[provider] = next_slot + rate.interval
            return True, wait

    def reset(self) -> None:
        with self._lock:
            self._next.clear()


_local = _LocalSlots()


def reset(provider: str) -> None:
    """Forget the provider's reserved slots (tests and the benchmark start from a clean slate)."""
    client = redis_client()
    if client is not None:
        client.delete(KEY_PREFIX + provider)
    _local.reset()
