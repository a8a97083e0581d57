"""Fixtures of the tests that talk to the stand-ins: both stand-ins, fresh, and a closed port.

Registered for the whole suite by `tests/conftest.py` (`pytest_plugins`).
"""

import socket

import pytest

from connectapp.connections.infra import ratelimit
from connectapp.sandbox.discogs import standin as discogs_standin
from connectapp.sandbox.pinterest import standin as pinterest_standin
from tests.providers.hostile_server import HostileServer


@pytest.fixture
def discogs(sandbox):
    discogs_standin.reset()
    yield discogs_standin
    discogs_standin.reset()


@pytest.fixture
def pinterest(sandbox):
    pinterest_standin.reset()
    ratelimit.reset("pinterest")
    yield pinterest_standin
    pinterest_standin.reset()


@pytest.fixture
def standins(discogs, pinterest, sandbox) -> str:
    """Both stand-ins, fresh; answers their base URL."""
    return sandbox


@pytest.fixture
def closed_port():
    """A local port nothing listens on: connecting to it is refused at once. It stays bound
    (never listening) for the whole test, so nothing else can take it meanwhile."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield probe.getsockname()[1]


@pytest.fixture
def hostile():
    """A provider on 127.0.0.1 that misbehaves as each test tells it (`HostileServer`)."""
    server = HostileServer().start()
    yield server
    server.stop()
