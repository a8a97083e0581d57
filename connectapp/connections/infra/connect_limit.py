"""How often one user may start a connection flow.

Every start costs a provider call (Discogs hands out a request token) and a pending flow in the
session, so a script pressing "Connect" in a loop is stopped here. The count lives in the
shared store (`store`), so every web process counts against the same limit.

`CONNECTAPP_CONNECT_RATE_LIMIT` is a rate in the grammar of `ratelimit` (default "10/60": ten
starts a minute; "10/m" says the same); "0/…" turns it off. Unlike the provider limits, which
space requests evenly, this is a fixed window: a person may start a few flows in a row.
"""

import math
import time

from connectapp import conf
from connectapp.exceptions import TooManyStarts

from . import store
from .ratelimit import Rate, parse

KEY_PREFIX = store.PREFIX + "connect-starts"

# KEYS[1]: the window's counter; ARGV[1]: its lifetime (s). Answers the count with this start.
_COUNT_START = """
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return used
"""


def connect_rate() -> Rate:
    """Return the configured limit on flow starts per user."""
    return parse(
        conf.value("CONNECT_RATE_LIMIT"),
        setting="CONNECTAPP_CONNECT_RATE_LIMIT",
        form="STARTS/SECONDS, for example 10/60 (or a period in s, m, h: 10/m)",
        allow_zero=True,
    )


def check_flow_start(user) -> None:
    """Count one flow start for `user`; raise `TooManyStarts` when the window's quota is used.

    A fixed window: the count is kept under a key naming the window, which expires with it,
    counted and given its lifetime by one atomic script.
    """
    limit = connect_rate()
    if limit.count == 0:
        return
    now = time.time()
    window = int(now // limit.period)
    key = f"{KEY_PREFIX}:{user.pk}:{int(limit.period)}:{window}"
    lifetime = int(limit.period) + 1
    if store.client() is None:
        used = store.local.update(key, lambda count: (count or 0) + 1, ttl=lifetime)
    else:
        used = store.script(_COUNT_START)(keys=[key], args=[lifetime])
    if used > limit.count:
        raise TooManyStarts(max(1, math.ceil((window + 1) * limit.period - now)))
