"""The Redis that workers share for rate limits and outcome counters (`CONNECTAPP_REDIS_URL`)."""

from functools import cache

import redis
from django.conf import settings


def redis_client() -> redis.Redis | None:
    """The shared Redis, or None when there is none (then state is kept per process)."""
    url = settings.CONNECTAPP_REDIS_URL
    return _client_for(url) if url else None


@cache
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
