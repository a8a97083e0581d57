"""Rates: one grammar for every limit, and the per-provider request rates shared by every
worker, so a large sweep slows down on our side instead of being throttled (HTTP 429) by the
provider.

A rate reads `count/period`; the period is seconds (`10/60`), a unit (`60/m`: `s`, `m` or
`h`) or both (`5/10m`). `CONNECTAPP_RATE_LIMITS` says how many requests a provider takes per
period (`discogs=60/m`); `CONNECTAPP_CONNECT_RATE_LIMIT` (see `connect_limit`) how many flows
one user may start.

Provider requests are spaced evenly (GCRA: one slot every period/count), so no window of that
period ever holds more than `count` of them. The next free slot lives in the shared store and is
taken by one atomic script using Redis' own clock, so workers on any number of machines share
one limit. Without Redis the limit is kept per process.
"""

import math
import re
import time
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from connectapp import conf

from . import store

KEY_PREFIX = store.PREFIX + "ratelimit:"
UNITS = {"s": 1, "m": 60, "h": 3600}
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smh]?)\s*$")

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
        """Return the seconds between two requests."""
        return self.period / self.count


def parse(text: str, *, setting: str, form: str, allow_zero: bool = False) -> Rate:
    """Return the rate `text` says, or raise `ImproperlyConfigured` naming the `setting` and
    the `form` it should have. A count of 0 (allowed only with `allow_zero`) turns a limit off."""
    match = RATE.match(text)
    period = int(match[2] or 1) * UNITS[match[3] or "s"] if match and (match[2] or match[3]) else 0
    if not match or period <= 0 or (int(match[1]) == 0 and not allow_zero):
        raise ImproperlyConfigured(f"{setting}: {text!r} is not a rate; it must read {form}")
    return Rate(int(match[1]), period)


def rate_for(provider: str) -> Rate | None:
    """Return the provider's configured rate, or None when it is not limited here."""
    text = conf.value("RATE_LIMITS").get(provider)
    if not text:
        return None
    return parse(
        text,
        setting="CONNECTAPP_RATE_LIMITS",
        form="COUNT/PERIOD, for example 60/m (period in seconds or s, m, h)",
    )


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
    if store.client() is None:
        return _take_local_slot(provider, rate, max_wait)
    taken, wait_ms = store.script(_TAKE_SLOT)(
        keys=[KEY_PREFIX + provider],
        args=[math.ceil(rate.interval * 1000), math.floor(max_wait * 1000)],
    )
    return bool(taken), wait_ms / 1000


def _take_local_slot(provider: str, rate: Rate, max_wait: float) -> tuple[bool, float]:
    """The same arithmetic in this process's memory, for running without Redis."""
    now = time.monotonic()
    wait = 0.0

    def take(next_slot: float | None) -> float:
        nonlocal wait
        next_slot = max(next_slot or now, now)
        wait = next_slot - now
        return next_slot if wait > max_wait else next_slot + rate.interval

    store.local.update(KEY_PREFIX + provider, take)
    return wait <= max_wait, wait


def reset(provider: str) -> None:
    """Forget the provider's reserved slots (tests and the benchmark start from a clean slate)."""
    shared = store.client()
    if shared is not None:
        shared.delete(KEY_PREFIX + provider)
    store.local.delete(KEY_PREFIX + provider)
