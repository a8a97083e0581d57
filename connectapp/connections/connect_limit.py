"""How often one user may start a connection flow.

Every start costs a provider call (Discogs hands out a request token) and a pending flow in the
session, so a script pressing "Connect" in a loop is stopped here. The count lives in Django's
cache, so it is shared by every web process when `CACHE_URL` points at Redis; with the default
per-process cache each process counts on its own.

`CONNECTAPP_CONNECT_RATE_LIMIT` is "starts/seconds" (default "10/60"); "0/…" turns it off.
"""

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

KEY_PREFIX = "connectapp:connect-starts"


@dataclass(frozen=True)
class Limit:
    starts: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> "Limit":
        starts, slash, seconds = text.partition("/")
        try:
            limit = cls(int(starts), int(seconds))
        except ValueError:
            limit = None
        if not slash or limit is None or limit.starts < 0 or limit.seconds <= 0:
            raise ImproperlyConfigured(
                "CONNECTAPP_CONNECT_RATE_LIMIT must read STARTS/SECONDS, for example 10/60."
            )
        return limit


class TooManyStarts(Exception):
    """The user started too many flows in the current window."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many connection attempts; try again in {retry_after} s")
        self.retry_after = retry_after


def check_flow_start(user) -> None:
    """Count one flow start for `user`; raise `TooManyStarts` when the window's quota is used.

    A fixed window: the count is kept under a key naming the window, which expires with it.
    `cache.add` then `cache.incr` are atomic in Redis and in the local-memory cache.
    """
    limit = Limit.parse(settings.CONNECTAPP_CONNECT_RATE_LIMIT)
    if limit.starts == 0:
        return
    now = time.time()
    window = int(now // limit.seconds)
    key = f"{KEY_PREFIX}:{user.pk}:{limit.seconds}:{window}"
    cache.add(key, 0, timeout=limit.seconds + 1)
    try:
        used = cache.incr(key)
    except ValueError:
        # The key expired between `add` and `incr`: this start opens a fresh window.
        cache.add(key, 1, timeout=limit.seconds + 1)
        used = 1
    if used > limit.starts:
        raise TooManyStarts(max(1, math.ceil((window + 1) * limit.seconds - now)))
