"""The backend API's hot paths: the credentials endpoint for a link that needs no refresh
(it never calls the provider; its SQL statement count is asserted in tests/api), and the
proxy's added latency over calling the Pinterest stand-in directly.

The clients run in threads of the bench process, beside the server's threads, so the figures
include that contention; they compare runs on one machine, not machines.
"""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests


def _timed(session: requests.Session, url: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    answer = session.get(url, headers=headers, timeout=30)
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise SystemExit(f"bench: {url} answered {answer.status_code}: {answer.text[:300]}")
    return elapsed


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _run(url: str, headers: dict[str, str], requests_count: int, clients: int) -> dict:
    sessions = [requests.Session() for _ in range(clients)]
    for session in sessions:
        _timed(session, url, headers)  # connections open, caches warm
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        samples = list(
            pool.map(
                lambda index: _timed(sessions[index % clients], url, headers),
                range(requests_count),
            )
        )
    wall = time.perf_counter() - started
    return {
        "requests": str(requests_count),
        "clients": str(clients),
        "requests/s": f"{requests_count / wall:.0f}",
        "p50 ms": f"{statistics.median(samples) * 1000:.1f}",
        "p99 ms": f"{_percentile(samples, 0.99) * 1000:.1f}",
    }


def api_rows(base: str, requests_count: int, clients: list[int]) -> tuple[list[dict], list[dict]]:
    """Answer the credentials rows (one per client count) and the proxy row."""
    from django.utils import timezone

    from connectapp.connections.models import LinkedAccount
    from connectapp.connections.services import apikeys
    from connectapp.sandbox.pinterest import standin

    from .common import bench_user

    tokens = standin.issue_tokens("bench-pinner")
    link = LinkedAccount.objects.create(
        user=bench_user(),
        provider="pinterest",
        external_id=standin.user_id("bench-pinner"),
        username="bench-pinner",
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        expires_at=timezone.now() + timedelta(days=30),
    )
    key = apikeys.create_key("bench", ["credentials:read", "proxy"]).key
    auth = {"Authorization": f"Bearer {key}"}
    credentials = f"{base}/api/v1/connections/{link.pk}/credentials"
    credential_rows = [_run(credentials, auth, requests_count, count) for count in clients]
    if any(call.endpoint == "token" for call in standin.calls()):
        raise SystemExit("bench: the credentials hot path asked the provider for a token")

    direct = _run(
        f"{base}/sandbox/pinterest/v5/user_account",
        {"Authorization": f"Bearer {tokens['access_token']}"},
        requests_count // 4,
        1,
    )
    proxied = _run(
        f"{base}/api/v1/connections/{link.pk}/proxy/user_account", auth, requests_count // 4, 1
    )
    added = float(proxied["p50 ms"]) - float(direct["p50 ms"])
    proxy_rows = [
        {"call": "stand-in directly", **direct, "added p50 ms": "-"},
        {"call": "through the proxy", **proxied, "added p50 ms": f"{added:.1f}"},
    ]
    return credential_rows, proxy_rows
