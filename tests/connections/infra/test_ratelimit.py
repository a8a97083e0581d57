"""The provider rate limits: one budget per provider shared by every process through Redis,
and a rate that cannot be read is refused."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from connectapp.connections.infra import ratelimit, store


def test_workers_share_one_rate_limit_per_provider(redis_url, settings):
    settings.CONNECTAPP_RATE_LIMITS = {"discogs": "60/m"}
    ratelimit.reset("discogs")

    assert ratelimit.wait_turn("discogs", max_wait=0) == 0
    store.disconnect()  # another process: a connection of its own
    wait = ratelimit.wait_turn("discogs", max_wait=0)

    assert 0.9 <= wait <= 1.0  # the next slot is one second (60 a minute) after the first
    assert ratelimit.wait_turn("pinterest", max_wait=0) == 0  # not limited
    ratelimit.reset("discogs")


@pytest.mark.parametrize("rate", ["60", "0/m", "ten/m", "60/d"])
def test_a_rate_that_cannot_be_read_is_refused(settings, rate):
    settings.CONNECTAPP_RATE_LIMITS = {"discogs": rate}

    with pytest.raises(ImproperlyConfigured, match="CONNECTAPP_RATE_LIMITS"):
        ratelimit.rate_for("discogs")
