"""The HTTP transport of webhook deliveries, guarded against server-side request forgery.

Every request has a deadline and a size cap, follows no redirect, goes only to `http(s)` URLs
and, unless `CONNECTAPP_WEBHOOK_ALLOW_PRIVATE`, never to a loopback, link-local or private
address: that is checked on the address the socket actually connected to, before anything is
sent, so a DNS answer that changes between a check and the connection cannot get past it.
"""

import ipaddress
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.utils.translation import gettext
from requests.adapters import HTTPAdapter

from connectapp import conf
from connectapp.exceptions import InvalidEndpoint, UnsafeDestination
from connectapp.providers.http import connection_pools, retry_after_seconds

EXCERPT_BYTES = 500


@dataclass(frozen=True)
class Answer:
    """What a receiver answered (`status_code` None: no answer), in words safe to store."""

    status_code: int | None
    excerpt: str
    error: str
    retry_after: float | None

    @property
    def ok(self) -> bool:
        """Return whether the receiver took the delivery (a 2xx answer)."""
        return self.status_code is not None and 200 <= self.status_code < 300


def check_url(url: str) -> str:
    """Return the URL when it is an absolute http(s) URL; raise `InvalidEndpoint` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidEndpoint(gettext("not an http(s) URL: %(url)s") % {"url": repr(url)})
    if parts.username or parts.password:
        raise InvalidEndpoint(gettext("a webhook URL may not hold credentials"))
    return url


def post(url: str, data: bytes, headers: dict[str, str]) -> Answer:
    """Return what the URL answered to one POST; never raises for anything the receiver or
    the network does."""
    try:
        check_url(url)
    except InvalidEndpoint as problem:
        return Answer(None, "", str(problem), None)
    timeout = conf.value("WEBHOOK_TIMEOUT")
    deadline = time.monotonic() + timeout
    try:
        with (
            _session() as session,
            session.post(
                url,
                data=data,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            ) as response,
        ):
            received = _read_capped(response, deadline)
            excerpt = received[:EXCERPT_BYTES].decode("utf-8", "replace")
            error = ""
            if response.is_redirect:
                error = "answered with a redirect, which is not followed"
            elif not 200 <= response.status_code < 300:
                error = f"answered HTTP {response.status_code}"
            retry_after = retry_after_seconds(response)
            return Answer(response.status_code, excerpt, error, retry_after)
    except UnsafeDestination as refusal:
        return Answer(None, "", str(refusal), None)
    except requests.Timeout:
        return Answer(None, "", f"no answer within {timeout:g}s", None)
    except requests.RequestException as failure:
        return Answer(None, "", f"{type(failure).__name__}: could not reach the endpoint", None)


def _read_capped(response: requests.Response, deadline: float) -> bytes:
    """Return at most the size cap of the answer, read before the deadline."""
    cap = conf.value("WEBHOOK_MAX_RESPONSE_BYTES")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(8192):
        chunks.append(chunk)
        size += len(chunk)
        if size >= cap or time.monotonic() > deadline:
            break
    return b"".join(chunks)[:cap]


def _refuse_private(sock, host: str) -> None:
    """Close the socket unless its peer is an address we may send to."""
    if conf.value("WEBHOOK_ALLOW_PRIVATE"):
        return
    address = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        sock.close()
        raise UnsafeDestination(
            f"{host} resolves to {address}, a non-public address "
            "(set CONNECTAPP_WEBHOOK_ALLOW_PRIVATE to allow it)"
        )


class _Guarded:
    """A connection that checks the peer of each new socket before it is used."""

    def _new_conn(self):
        sock = super()._new_conn()
        _refuse_private(sock, self.host)
        return sock


_GUARDED_POOLS = connection_pools(_Guarded)


class _GuardedAdapter(HTTPAdapter):
    """Checks the address each new connection reached before a byte is sent on it."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _GUARDED_POOLS


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: the peer is the receiver
    session.mount("http://", _GuardedAdapter(max_retries=0))
    session.mount("https://", _GuardedAdapter(max_retries=0))
    return session
