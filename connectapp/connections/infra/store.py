"""The one store that every process shares: the rotated-token write-ahead, the rate limits and
the outcome counters all live here.

It is Redis when `CONNECTAPP_REDIS_URL` is set (by default the broker, when the broker is
Redis): one pooled client per process, built on first use and rebuilt in a forked child. With
no Redis it is this process's memory (`local`), for the demo and single-process runs; the
settings refuse that outside `DEBUG` when workers are networked.

Lua runs through redis-py's `register_script` (EVALSHA, the source is sent only when Redis
does not know it yet). Commands that need not complete before anything else (deleting a spent
write-ahead entry) are `defer`red and ride along with this process's next round trip.
"""

import atexit
import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis

from connectapp import conf

PREFIX = "connectapp:"

T = TypeVar("T")

_lock = threading.Lock()
_client: redis.Redis | None = None
_client_url = ""
_scripts: dict[str, Any] = {}
_deferred: list[tuple[str, list[str], list[Any]]] = []


def client() -> redis.Redis | None:
    """Return this process's pooled Redis client, or None when the store is local memory."""
    global _client, _client_url
    url = conf.value("REDIS_URL")
    if not url:
        return None
    if _client is None or _client_url != url:
        with _lock:
            if _client is None or _client_url != url:
                _client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
                _client_url = url
                _scripts.clear()
    return _client


def script(source: str) -> Any:
    """Return `source` registered on the client (a callable running it by its SHA1)."""
    shared = client()
    registered = _scripts.get(source)
    if registered is None or registered.registered_client is not shared:
        registered = _scripts[source] = shared.register_script(source)
    return registered


def round_trip(queue: Callable[[redis.client.Pipeline], None]) -> list[Any]:
    """Return the answers to the commands `queue(pipe)` adds to a pipeline (no MULTI), sent in
    one round trip together with the deferred commands; raise the first error among them."""
    deferred = _take_deferred()
    try:
        with client().pipeline(transaction=False) as pipe:
            for source, keys, args in deferred:
                pipe.evalsha(script(source).sha, len(keys), *keys, *args)
            queue(pipe)
            answers = pipe.execute(raise_on_error=False)
    except Exception:
        with _lock:
            _deferred[:0] = deferred  # not sent: they go with the next round trip instead
        raise
    for (source, keys, args), answer in zip(deferred, answers, strict=False):
        if isinstance(answer, redis.exceptions.NoScriptError):
            script(source)(keys=keys, args=args)  # Redis restarted: this call loads it again
    own = answers[len(deferred) :]
    for answer in own:
        if isinstance(answer, Exception):
            raise answer
    return own


def defer(source: str, keys: list[str], args: list[Any]) -> None:
    """Run the Lua `source` with this process's next round trip (at the latest at exit): for
    cleanups that nothing waits for, so they cost no round trip of their own."""
    with _lock:
        _deferred.append((source, keys, args))


def deferred_count() -> int:
    """Return how many deferred commands wait for this process's next round trip."""
    return len(_deferred)


def flush() -> None:
    """Send the deferred commands now (a no-op when there are none)."""
    if _deferred and client() is not None:
        round_trip(lambda pipe: None)


def disconnect() -> None:
    """Drop this process's client: the next use connects anew (a forked child does this)."""
    global _client
    with _lock:
        _client = None
        _scripts.clear()


def _take_deferred() -> list[tuple[str, list[str], list[Any]]]:
    with _lock:
        taken = list(_deferred)
        _deferred.clear()
    return taken


def clear() -> None:
    """Forget every key connectapp keeps, in Redis and in memory (tests and the benchmark)."""
    local.clear()
    _take_deferred()
    shared = client()
    if shared is not None:
        keys = list(shared.scan_iter(match=PREFIX + "*", count=1000))
        if keys:
            shared.delete(*keys)


class LocalStore:
    """The store in this process's memory: keys with an optional lifetime, changed atomically."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[Any, float | None]] = {}

    def get(self, key: str) -> Any:
        """Return the key's value, or None when it is unset or expired."""
        with self._lock:
            return self._live(key, time.monotonic())

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        with self._lock:
            self._values[key] = (value, time.monotonic() + ttl if ttl else None)

    def delete(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)

    def update(self, key: str, change: Callable[[Any], T], ttl: float | None = None) -> T:
        """Return `change(current value or None)`, stored as the key's new value in one step.
        The key keeps its lifetime; `ttl` gives one to a key that has none (a new key)."""
        with self._lock:
            now = time.monotonic()
            value = change(self._live(key, now))
            expires = self._values.get(key, (None, None))[1] or (now + ttl if ttl else None)
            self._values[key] = (value, expires)
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def _live(self, key: str, now: float) -> Any:
        value, expires = self._values.get(key, (None, None))
        if expires is not None and expires <= now:
            del self._values[key]
            return None
        return value


local = LocalStore()


def _in_forked_child() -> None:
    """A child process makes connections of its own and inherits no deferred command."""
    global _lock, _client
    _lock = threading.Lock()
    _client = None
    _scripts.clear()
    _deferred.clear()
    local._lock = threading.Lock()


def _flush_at_exit() -> None:
    # A cleanup that cannot be sent expires with its key's lifetime.
    with contextlib.suppress(redis.RedisError, OSError):
        flush()


os.register_at_fork(after_in_child=_in_forked_child)
atexit.register(_flush_at_exit)
