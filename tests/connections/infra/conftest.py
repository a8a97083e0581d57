"""Fixtures for the shared store's tests: what this process sends to Redis, and another
process of the project to read what this one wrote."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis.connection

from connectapp.connections.infra import store
from connectapp.sandbox.pinterest import standin

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def shared_store(redis_url, settings) -> redis.Redis:
    """The store on the run's Redis (the broker's), from a fresh client of this process,
    already connected (so the connection's handshake is not counted as a round trip)."""
    settings.CONNECTAPP_REDIS_URL = redis_url
    store.disconnect()
    store.client().ping()
    yield store.client()
    store.clear()
    store.disconnect()


@pytest.fixture
def sent(monkeypatch) -> list[bytes]:
    """Every round trip this process makes to Redis from now on, as the bytes it sent."""
    payloads: list[bytes] = []
    send = redis.connection.AbstractConnection.send_packed_command

    def recording(connection, command, check_health=True):
        parts = [command] if isinstance(command, (bytes, str)) else list(command)
        payloads.append(b"".join(p.encode() if isinstance(p, str) else bytes(p) for p in parts))
        return send(connection, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", recording)
    return payloads


@pytest.fixture
def pinterest(sandbox):
    standin.reset()
    yield standin
    standin.reset()


def in_another_process(code: str, **env: str) -> str:
    """Return what `code` prints when run by another Python process with the project's
    settings and this process's environment (so the same store and keys)."""
    setup = "import django; django.setup()\n"
    result = subprocess.run(
        [sys.executable, "-c", setup + code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "standalone.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
