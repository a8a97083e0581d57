"""Turning what a provider's HTTP server answers into our typed errors.

Outages (no answer, timeouts, 5xx, 429, bodies that are not what was promised) become
`ProviderUnavailable`, with `Retry-After` when the provider sent one; anything else is left
to the provider module, which knows what the provider's own "no" looks like.
"""

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from django.utils import timezone
from requests.adapters import HTTPAdapter

from connectapp.exceptions import ProviderUnavailable

#: A longer `Retry-After` is a provider's mistake; we come back after this many seconds.
MAX_RETRY_AFTER = 24 * 60 * 60.0
#: Hosts a thread keeps connections to (a provider has one or two: its API and its OAuth).
KEPT_HOSTS = 32


class _KeptAdapter(HTTPAdapter):
    """Connections kept alive for a thread: they outlive the sessions that mount them, so
    closing a session (Authlib's are per call) leaves them open for the next one."""

    def close(self) -> None:
        """Keep the connections: they belong to the thread, not to the session."""


_kept = threading.local()


def _forget_kept_connections() -> None:
    """A forked child must not share its parent's sockets: it starts with none."""
    global _kept
    _kept = threading.local()


os.register_at_fork(after_in_child=_forget_kept_connections)


def keep_alive(session: requests.Session) -> requests.Session:
    """Return `session` sending through this thread's kept-alive connections (one pool per host,
    per thread, per process: safe across threads and forks)."""
    adapter = getattr(_kept, "adapter", None)
    if adapter is None:
        adapter = _kept.adapter = _KeptAdapter(pool_connections=KEPT_HOSTS)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP dates are in GMT (RFC 9110 §5.6.7)
    return min(max(0.0, (when - timezone.now()).total_seconds()), MAX_RETRY_AFTER)


def error_message(response: requests.Response) -> str:
    """A readable message from any of the error bodies providers use, without echoing secrets."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        if isinstance(body.get("errors"), list) and body["errors"]:
            first = body["errors"][0]
            if isinstance(first, dict) and first.get("message"):
                return f"HTTP {response.status_code}: {first['message']}"
        if body.get("error"):
            description = body.get("error_description")
            return f"{body['error']}: {description}" if description else str(body["error"])
        if body.get("message"):
            code = body.get("code")
            return f"{body['message']} (code {code})" if code is not None else str(body["message"])
    return f"HTTP {response.status_code}"


def raise_for_outage(response: requests.Response, provider: str) -> None:
    if response.status_code == 429:
        raise ProviderUnavailable(
            f"{provider} is rate limiting us (HTTP 429)", retry_after_seconds(response)
        )
    if response.status_code >= 500:
        raise ProviderUnavailable(
            f"{provider} answered HTTP {response.status_code}", retry_after_seconds(response)
        )


def json_body(response: requests.Response, provider: str) -> dict[str, Any]:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        raise ProviderUnavailable(f"{provider} answered something that is not JSON") from None
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"{provider} answered JSON of an unexpected shape")
    return body


@contextmanager
def transport_errors(provider: str) -> Iterator[None]:
    """Map connection failures and timeouts to `ProviderUnavailable`."""
    try:
        yield
    except requests.Timeout:
        raise ProviderUnavailable(f"{provider} did not answer in time") from None
    except requests.ConnectionError:
        raise ProviderUnavailable(f"{provider} could not be reached") from None
    except requests.RequestException:
        # A body cut off before its Content-Length, a broken encoding, a redirect loop.
        raise ProviderUnavailable(f"{provider} answered a broken response") from None
