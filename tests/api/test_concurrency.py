"""Concurrent credentials calls on an expiring link, from separate client processes to a
server of several processes, cause one token request at the provider."""

import multiprocessing
import os
import socket
import sys
from datetime import timedelta

import pytest
import requests
from django.conf import settings

from connectapp import conf
from connectapp.sandbox.pinterest import standin as pinterest_standin
from tests.support.pinterest_support import pinterest_link
from tests.support.workers import database_url, start_process, wait_until

CALLERS = 16


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def api_server(standins, tmp_path):
    """The app under gunicorn (4 processes), on the test database and the live stand-ins."""
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONNECTAPP_")},
        "DEBUG": "true",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CONNECTAPP_API_RATE_LIMIT": "0/60",
        "PINTEREST_API_URL": f"{standins}/pinterest/v5",
        "PINTEREST_CLIENT_ID": conf.value("PINTEREST_CLIENT_ID"),
        "PINTEREST_CLIENT_SECRET": conf.value("PINTEREST_CLIENT_SECRET"),
    }
    command = [
        sys.executable, "-m", "gunicorn", "standalone.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "4", "--worker-class", "gthread",
        "--threads", "4", "--timeout", "60",
    ]  # fmt: skip
    process = start_process(command, environment, log)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            return requests.get(f"{base}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    wait_until(answers, timeout=60, what="gunicorn to answer")
    yield f"{base}/api/v1"
    process.terminate()
    process.wait(timeout=30)


def _read_credentials(url: str, key: str, barrier, results) -> None:
    """In a child process: wait for every caller, then ask at once."""
    barrier.wait(timeout=60)
    answer = requests.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    results.put((answer.status_code, answer.json().get("access_token")))


def test_sixteen_processes_on_an_expiring_link_cause_one_token_request(api_server, make_key, user):
    link = pinterest_link(user, expires_in=timedelta(minutes=2))
    key = make_key(["credentials:read"]).key
    url = f"{api_server}/connections/{link.pk}/credentials"
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(CALLERS), context.Queue()
    callers = [
        context.Process(target=_read_credentials, args=(url, key, barrier, results))
        for _ in range(CALLERS)
    ]
    for caller in callers:
        caller.start()
    answers = [results.get(timeout=120) for _ in callers]
    for caller in callers:
        caller.join(timeout=30)

    assert [status for status, _ in answers] == [200] * CALLERS
    tokens = {token for _, token in answers}
    assert len(tokens) == 1 and link.access_token not in tokens
    assert len(pinterest_standin.calls("token")) == 1
    link.refresh_from_db()
    assert link.access_token in tokens
