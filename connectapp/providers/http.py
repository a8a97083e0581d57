"""How connectapp talks to providers over HTTP, and what their answers mean.

`GuardedSession` is the one way out: every provider call (Authlib's token, identity and
revocation requests, Discogs' request and access tokens, the sessions handed to site code) has
a deadline for the whole call, a cap on the size of the answer, and follows no redirect.

Outages (no answer, timeouts, 5xx, 429, bodies that are not what was promised) become
`ProviderUnavailable`, with `Retry-After` when the provider sent one; answers that arrived but
cannot be used become `UnusableAnswer`; anything else is left to the provider module, which
knows what the provider's own "no" looks like.
"""

import base64
import contextlib
import functools
import heapq
import http.client
import itertools
import math
import os
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import requests
import urllib3
from django.utils import timezone
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting
from urllib3.exceptions import ProtocolError
from urllib3.util.retry import Retry

from connectapp import conf
from connectapp.exceptions import ProviderUnavailable, UnusableAnswer
from connectapp.redaction import SECRET_NAMES, provider_text

#: A longer `Retry-After` is a provider's mistake; we come back after this many seconds.
MAX_RETRY_AFTER = 24 * 60 * 60.0
#: The statuses that point elsewhere (RFC 9110 §15.4); a provider call never follows one.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: A token goes into a header: visible ASCII only, and not without end.
TOKEN = re.compile(r"[\x21-\x7e]{1,16384}")
#: The parameters of an OAuth 1.0a `Authorization` header.
_OAUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')
#: How much of an answer is read at a time.
CHUNK_BYTES = 64 * 1024


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


def parsed(response: requests.Response) -> Any:
    """Return the JSON in the answer, or `None` when it is not JSON (or nested too deep to read)."""
    try:
        return response.json()
    except (ValueError, RecursionError):
        return None


def error_message(response: requests.Response) -> str:
    """A readable message from any of the error bodies providers use, without echoing secrets.

    The provider's text goes through `redaction.provider_text`, with every credential the call
    sent or received removed (see `call_secrets`).
    """
    body = parsed(response)
    message = f"HTTP {response.status_code}"
    if isinstance(body, dict):
        errors = body.get("errors")
        first = errors[0] if isinstance(errors, list) and errors else None
        if isinstance(first, dict) and first.get("message"):
            message = f"HTTP {response.status_code}: {first['message']}"
        elif body.get("error"):
            description = body.get("error_description")
            message = f"{body['error']}: {description}" if description else str(body["error"])
        elif body.get("message"):
            code = body.get("code")
            message = (
                f"{body['message']} (code {code})" if code is not None else str(body["message"])
            )
    return provider_text(message, call_secrets(response, body))


def call_secrets(response: requests.Response, body: Any = None) -> set[str]:
    """Return the credentials of one provider call: the secret fields of the form and query we
    sent, the `Authorization` header (and a Basic header's password, decoded), and the tokens
    in the parsed answer `body`."""
    found: set[str] = set()
    request = response.request
    if request is not None:
        sent = request.body.decode("latin-1") if isinstance(request.body, bytes) else request.body
        pairs = parse_qsl(sent, keep_blank_values=False) if isinstance(sent, str) else []
        pairs += parse_qsl(urlsplit(request.url or "").query)
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if credentials:
            found.add(credentials)
            pairs += [(name, unquote(value)) for name, value in _OAUTH_PARAM.findall(credentials)]
        if scheme.lower() == "basic":
            with contextlib.suppress(ValueError):
                found.add(base64.b64decode(credentials).decode().partition(":")[2])
        found |= {value for name, value in pairs if name.lower() in SECRET_NAMES}
    if isinstance(body, dict):
        found |= {body[name] for name in SECRET_NAMES if isinstance(body.get(name), str)}
    return found


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
    """Return the JSON object of the answer; `UnusableAnswer` when it is anything else."""
    body = parsed(response)
    if body is None:
        raise UnusableAnswer(provider, "something that is not JSON")
    if not isinstance(body, dict):
        raise UnusableAnswer(provider, "JSON of an unexpected shape")
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


# --- Every provider call: one deadline, a size cap, no redirects ---------------------------

_calls = threading.local()


class _Call:
    """One provider call's deadline: at its end, the sockets it uses are shut down.

    A read timeout alone bounds each read, not the call: a server that sends a byte every few
    seconds keeps a call alive for ever. Shutting the socket down from another thread ends any
    read in progress, wherever it is (the status line, the headers or the body).
    """

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._seconds = seconds
        self._finished = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.expired:
                _shut(sock)
            else:
                self._sockets.append(sock)

    def expire(self) -> None:
        """Shut the call's sockets, unless it has ended."""
        with self._lock:
            if self._finished:
                return
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> "_Call":
        self._outer = getattr(_calls, "current", None)  # a call made inside a call
        _calls.current = self
        _deadlines.watch(self, self._seconds)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._finished = True
            self._sockets = []
        _calls.current = self._outer


class _Deadlines:
    """The one thread of a process that ends the calls whose deadline has come.

    A timer thread of its own for each call cost more than the rest of the call's client side
    (a thread start is a tenth of a millisecond, and a wait for the new thread to run): here a
    call adds itself to a heap and is left there when it ends. The thread sleeps until the
    earliest deadline, but never less than `SLACK`, and then ends every call due at once: it
    wakes at most `1 / SLACK` times a second however many calls a process makes, where waking
    for each call's deadline cost a thread switch per call (0.2 ms of a 1.2 ms token request
    once a worker had been busy for longer than the timeout). A call is told only when its
    deadline comes before the thread would wake.
    """

    #: How late a deadline may be kept: the calls due within it are ended together.
    SLACK = 0.05

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Call]] = []
        self._order = itertools.count()
        self._changed = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        # When the sleeping thread wakes by itself (inf: only when told; -inf: it is awake).
        self._wakes_at = math.inf

    def watch(self, call: _Call, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="connectapp-call-deadlines", daemon=True
                )
                self._thread.start()
            heapq.heappush(self._due, (deadline, next(self._order), call))
            if deadline < self._wakes_at:
                self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                ending = []
                while self._due and self._due[0][0] <= now:
                    ending.append(heapq.heappop(self._due)[2])
                if not ending:
                    if self._due:
                        self._wakes_at = max(self._due[0][0], now + self.SLACK)
                        self._changed.wait(self._wakes_at - now)
                    else:
                        self._wakes_at = math.inf
                        self._changed.wait()
                    self._wakes_at = -math.inf
                    continue
            for call in ending:
                call.expire()


_deadlines = _Deadlines()


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for TLS: it ends a read blocked in another thread
    # without touching the TLS state that thread is using. A closed socket needs nothing.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def connection_pools(mixin: type) -> dict[str, type[urllib3.HTTPConnectionPool]]:
    """Return urllib3's pool classes by scheme, whose connections have `mixin` before their
    own class (to watch or check the socket a connection makes)."""
    pools = {}
    for scheme, pool, connection in (
        ("http", urllib3.HTTPConnectionPool, urllib3.connection.HTTPConnection),
        ("https", urllib3.HTTPSConnectionPool, urllib3.connection.HTTPSConnection),
    ):
        connection_class = type(f"{mixin.__name__}{connection.__name__}", (mixin, connection), {})
        pools[scheme] = type(
            f"{mixin.__name__}{pool.__name__}", (pool,), {"ConnectionCls": connection_class}
        )
    return pools


class _IdleClosed(http.client.RemoteDisconnected):
    """The provider closed a kept connection while it sat idle, as our request went out on it:
    nothing was answered, so the provider never acted on the request."""


class _Watched:
    """A connection whose socket the current call's deadline can shut, and which tells a socket
    the provider closed after answering on it (`_IdleClosed`) from one that failed at once."""

    _answered_on: socket.socket | None = None

    def getresponse(self) -> urllib3.response.HTTPResponse:
        sock = self.sock
        call = getattr(_calls, "current", None)
        if call is not None:
            call.watch(sock)
        try:
            response = super().getresponse()
        except http.client.RemoteDisconnected as closed:
            # The deadline shutting the socket reads as a hang-up too: that one is final.
            expired = call is not None and call.expired
            if sock is not None and sock is self._answered_on and not expired:
                raise _IdleClosed(*closed.args) from closed
            raise
        self._answered_on = sock
        return response


class _SendAgainWhenIdleClosed(Retry):
    """No retries (requests' own default), except once for a request sent on a kept connection
    that the provider had just closed (`_IdleClosed`): it goes again, on a new connection,
    whatever its method, as browsers and Go's HTTP client do. Without it, a call that picks up
    a connection the provider is closing that very moment would fail for nothing."""

    def increment(self, method=None, url=None, response=None, error=None, *args, **kwargs):
        if self.total and isinstance(error, ProtocolError) and _idle_closed(error):
            return self.new(total=self.total - 1)
        return super(_SendAgainWhenIdleClosed, self.new(total=0)).increment(
            method, url, response, error, *args, **kwargs
        )


def _idle_closed(error: ProtocolError) -> bool:
    return any(isinstance(part, _IdleClosed) for part in error.args)


_WATCHED_POOLS = connection_pools(_Watched)


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with connections that a call's deadline can end."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> urllib3.PoolManager:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


#: Hosts a thread keeps connections to (a provider has one or two: its API and its OAuth).
KEPT_HOSTS = 32


class _KeptAdapter(_DeadlineAdapter):
    """Connections kept alive for a thread, under the same whole-call deadline as every
    provider call: they outlive the sessions that mount them, so closing a session (Authlib's
    are per call) leaves them open for the next one. A request that finds its kept connection
    just closed by the provider is sent again, once (`_SendAgainWhenIdleClosed`)."""

    def __init__(self, **kwargs: Any) -> None:
        # Answers, 429 and 503 with `Retry-After` included, are the caller's to read.
        again = _SendAgainWhenIdleClosed(total=1, read=False, respect_retry_after_header=False)
        super().__init__(max_retries=again, **kwargs)

    def close(self) -> None:
        """Keep the connections: they belong to the thread, not to the session."""


_kept = threading.local()


def _in_forked_child() -> None:
    """A forked child must not share its parent's sockets: it starts with none, and with a
    deadline thread of its own (a child has only the thread that forked)."""
    global _kept, _deadlines
    _kept = threading.local()
    _deadlines = _Deadlines()


os.register_at_fork(after_in_child=_in_forked_child)


def keep_alive(session: requests.Session) -> requests.Session:
    """Return `session` sending through this thread's kept-alive connections (one pool per host,
    per thread, per process: safe across threads and forks)."""
    adapter = getattr(_kept, "adapter", None)
    if adapter is None:
        adapter = _kept.adapter = _KeptAdapter(pool_connections=KEPT_HOSTS)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@functools.lru_cache(maxsize=256)
def _environment_proxies(origin: str, no_proxy: str | None) -> Mapping[str, str]:
    """Return the proxies the environment gives calls to `origin` (requests' reading of
    `HTTPS_PROXY`, `NO_PROXY`, …), read once per process: its environment is set when it starts."""
    return MappingProxyType(requests.utils.get_environ_proxies(origin, no_proxy=no_proxy))


class GuardedSession(requests.Session):
    """A session no provider can hang, bloat or send elsewhere. Every provider call uses one.

    Mixed in before Authlib's sessions (`class S(GuardedSession, OAuth2Session)`), so the
    token, identity and revocation requests Authlib makes go through `request` below too:

    - `CONNECTAPP_HTTP_TIMEOUT` bounds the whole call, connect and every read, in web
      processes and workers alike; past it the call raises `requests.Timeout`;
    - the body is read as it streams in and dropped past `CONNECTAPP_HTTP_MAX_RESPONSE_BYTES`
      (`UnusableAnswer`), so a huge answer never sits in memory; a caller that passes
      `stream=True` reads the body itself, within the deadline only until the headers;
    - redirects are never followed: a redirect is `UnusableAnswer`, and nothing (a client
      secret, a code, a PKCE verifier, a token) is ever sent to the place it points to.
    """

    #: Names the provider in `UnusableAnswer` messages.
    provider_name: str = "The provider"
    #: A redirect is an unusable answer. The API proxy turns this off: it hands a provider's
    #: redirect back to its caller, still without following it.
    refuse_redirects: bool = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mount("http://", _DeadlineAdapter())
        self.mount("https://", _DeadlineAdapter())

    def merge_environment_settings(
        self, url: str, proxies: dict | None, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        """requests' own, with the environment's proxies for the URL's origin read once per
        process (`_environment_proxies`): requests reads them anew for every call, walking every
        environment variable, which costs as much as the rest of the call's client side."""
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        proxies = {} if proxies is None else proxies
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        for name, value in _environment_proxies(origin, proxies.get("no_proxy")).items():
            proxies.setdefault(name, value)
        if verify is True or verify is None:
            verify = (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
            )
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        """Return the provider's answer, read whole and within the limits above."""
        stream = kwargs.pop("stream", False)
        deadline = conf.value("HTTP_TIMEOUT")
        if isinstance(kwargs.get("timeout"), int | float):
            deadline = min(deadline, kwargs["timeout"])  # a caller may want less, never more
        kwargs.update(allow_redirects=False, timeout=deadline)
        with _Call(deadline) as call:
            try:
                response = super().request(method, url, *args, stream=True, **kwargs)
                if self.refuse_redirects and (
                    response.is_redirect or response.status_code in REDIRECT_STATUSES
                ):
                    response.close()
                    raise UnusableAnswer(
                        self.provider_name, f"a redirect (HTTP {response.status_code})"
                    )
                if not stream:
                    read_capped(response, conf.value("HTTP_MAX_RESPONSE_BYTES"), self)
            except (requests.RequestException, OSError, ValueError):
                if call.expired:
                    raise requests.Timeout(f"no answer within {deadline:g} s") from None
                raise
        return response


def read_capped(response: requests.Response, limit: int, session: GuardedSession) -> None:
    """Read the body of `response` into it, or raise `UnusableAnswer` past `limit` bytes.

    The body is read in chunks as it arrives (decompressed, so a small compressed answer
    cannot grow past the cap either) and the connection is dropped at the first byte too many.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        response.close()
        raise UnusableAnswer(session.provider_name, f"an answer over {limit} bytes")
    body = bytearray()
    for chunk in response.iter_content(CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            response.close()
            raise UnusableAnswer(session.provider_name, f"an answer over {limit} bytes")
    # requests keeps a read body here; `content`, `text` and `json()` then use it.
    response._content = bytes(body)
    response.close()
