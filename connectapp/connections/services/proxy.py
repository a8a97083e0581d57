"""Calls to a provider's API made for another service, with the link's auth added here.

A call goes only below the provider's `api_base_url` (a path, never an absolute URL or one
that climbs out with `..`), follows no redirect, and carries none of the caller's
`Authorization` or cookies: only a few content headers pass, and the auth comes from
`services.authorized_session` (Bearer, or an OAuth 1.0a signature and Discogs' User-Agent).
It waits its turn under the provider rate limits the workers share, retries 429 and 5xx
(honouring `Retry-After`) while the deadline allows, refreshes once after a 401 and tries
again, and streams the answer back cut off at a size cap.
"""

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import requests

from connectapp import conf
from connectapp.exceptions import AccessRevoked, ProviderUnavailable, ProxyRefused
from connectapp.providers import registry
from connectapp.providers.http import retry_after_seconds, transport_errors

from .. import services
from ..infra import ratelimit
from ..models import LinkedAccount

logger = logging.getLogger(__name__)
Refusal = ProxyRefused.Reason

#: Request headers passed on to the provider; every other one (Authorization, Cookie, …) stays.
FORWARDED_REQUEST_HEADERS = (
    "Accept",
    "Accept-Language",
    "Content-Type",
    "If-Match",
    "If-Modified-Since",
    "If-None-Match",
)
#: Answer headers passed back; never Set-Cookie, and no framing headers (the body is re-framed).
FORWARDED_RESPONSE_HEADERS = (
    "Cache-Control",
    "Content-Type",
    "ETag",
    "Last-Modified",
    "Link",
    "Location",
    "Retry-After",
)
FORWARDED_RESPONSE_PREFIXES = ("x-discogs-ratelimit", "x-ratelimit")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
#: Attempts at one call when the provider answers 429 or 5xx.
MAX_ATTEMPTS = 3
#: The pause before a retry when the provider says nothing about when to come back.
RETRY_PAUSE = 0.5
CHUNK = 64 * 1024


@dataclass
class ProxyAnswer:
    """The provider's answer, its body still to be read through `chunks()`."""

    status: int
    headers: dict[str, str]
    response: requests.Response = field(repr=False)
    deadline: float = 0.0

    def chunks(self) -> Iterator[bytes]:
        """Yield the body, stopping at the size cap or the deadline; close the connection."""
        sent = 0
        try:
            for chunk in self.response.iter_content(CHUNK):
                sent += len(chunk)
                if sent > conf.value("PROXY_MAX_BYTES") or time.monotonic() > self.deadline:
                    logger.warning("proxy: answer cut off at the size cap or the deadline")
                    return
                yield chunk
        except requests.RequestException:
            logger.warning("proxy: the provider's answer broke off")
        finally:
            self.response.close()


def target_url(base: str, path: str, query: str) -> str:
    """Return the provider URL for `path` below `base`; `ProxyRefused` when it would leave it."""
    if not base:
        raise ProxyRefused(
            "This provider declares no API base URL to forward to.", Refusal.NO_API_BASE
        )
    decoded = unquote(path)
    if (
        "://" in decoded
        or decoded.startswith("/")
        or "\\" in decoded
        or any(ord(char) < 0x20 for char in decoded)
    ):
        raise ProxyRefused(
            "The path must be relative to the provider's API base.", Refusal.BAD_PATH
        )
    segments = decoded.split("/")
    if ".." in segments or "." in segments:
        raise ProxyRefused("The path may not contain '.' or '..' segments.", Refusal.BAD_PATH)
    url = f"{base.rstrip('/')}/{path}" + (f"?{query}" if query else "")
    parts, root = urlsplit(url), urlsplit(base)
    root_path = root.path.rstrip("/") + "/"
    if (parts.scheme, parts.netloc) != (root.scheme, root.netloc) or not parts.path.startswith(
        root_path
    ):
        raise ProxyRefused("The path must stay below the provider's API base.", Refusal.BAD_PATH)
    return url


def _session(account: LinkedAccount) -> requests.Session:
    """Return a session signing with the link's credentials that hands redirects back."""
    try:
        if account.is_app_level:
            session = services.app_session(account.provider)
        else:
            session = services.authorized_session(account)
    except AccessRevoked as refusal:
        raise ProxyRefused(
            f"The link needs reconnecting: {refusal}", Refusal.NEEDS_RECONNECT
        ) from None
    except ProviderUnavailable as outage:
        raise ProxyRefused(str(outage), Refusal.UNAVAILABLE, outage.retry_after) from None
    session.refuse_redirects = False
    return session


def forward(
    account: LinkedAccount,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
) -> ProxyAnswer:
    """Return the provider's answer to the caller's request, sent with the link's auth.

    Raises `ProxyRefused` when the call may not or cannot be made (a path out of the base, a
    link to reconnect, the provider unreachable or rate limited past the deadline).
    """
    method = method.upper()
    if method not in METHODS:
        raise ProxyRefused(f"Method {method} is not forwarded.", Refusal.METHOD_NOT_FORWARDED)
    provider = registry.get(account.provider)
    url = target_url(provider.api_base_url, path, query)
    wanted = {name.lower() for name in FORWARDED_REQUEST_HEADERS}
    outgoing = {name: value for name, value in headers.items() if name.lower() in wanted}
    deadline = time.monotonic() + conf.value("PROXY_DEADLINE_SECONDS")
    session = _session(account)
    refreshed = False
    attempt = 0
    while True:
        attempt += 1
        remaining = deadline - time.monotonic()
        wait = ratelimit.wait_turn(provider.name, max_wait=max(0.0, remaining - 1))
        if wait:
            raise ProxyRefused(
                f"{provider.display_name}'s rate limit is reached.", Refusal.RATE_LIMITED, wait
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProxyRefused(
                f"{provider.display_name} did not answer in time.", Refusal.TIMED_OUT
            )
        try:
            with transport_errors(provider.display_name):
                response = session.request(
                    method,
                    url,
                    headers=outgoing,
                    data=body or None,
                    allow_redirects=False,
                    stream=True,
                    timeout=min(conf.value("HTTP_TIMEOUT"), remaining),
                )
        except ProviderUnavailable as outage:
            raise ProxyRefused(str(outage), Refusal.UNREACHABLE) from None
        if response.status_code == 401 and provider.supports_refresh and not refreshed:
            response.close()
            refreshed = True
            _refresh_after_refusal(account)
            session = _session(account)
            continue
        if response.status_code == 429 or response.status_code >= 500:
            pause = retry_after_seconds(response)
            pause = RETRY_PAUSE * attempt if pause is None else pause
            if attempt < MAX_ATTEMPTS and time.monotonic() + pause < deadline - 1:
                response.close()
                time.sleep(pause)
                continue
        return ProxyAnswer(
            status=response.status_code,
            headers=_answer_headers(response),
            response=response,
            deadline=deadline,
        )


def _refresh_after_refusal(account: LinkedAccount) -> None:
    """The provider refused the access token: renew it once, under the usual row lock."""
    try:
        outcome = services.refresh(account.pk, actor="api-proxy", force=True)
    except ProviderUnavailable as outage:
        raise ProxyRefused(str(outage), Refusal.UNAVAILABLE, outage.retry_after) from None
    if outcome == services.RefreshOutcome.NEEDS_RECONNECT:
        raise ProxyRefused(
            "The link needs reconnecting: the provider refused its tokens.", Refusal.NEEDS_RECONNECT
        )


def _answer_headers(response: requests.Response) -> dict[str, str]:
    wanted = {name.lower() for name in FORWARDED_RESPONSE_HEADERS}
    return {
        name: value
        for name, value in response.headers.items()
        if name.lower() in wanted or name.lower().startswith(FORWARDED_RESPONSE_PREFIXES)
    }
