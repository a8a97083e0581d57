"""Fixtures of the attack and failure tests: both stand-ins, fresh, and a closed port."""

import socket

import pytest
from django.test import Client

from connectapp.sandbox.discogs import standin as discogs_standin
from connectapp.sandbox.pinterest import standin as pinterest_standin


@pytest.fixture
def discogs(sandbox):
    discogs_standin.reset()
    yield discogs_standin
    discogs_standin.reset()


@pytest.fixture
def pinterest(sandbox):
    pinterest_standin.reset()
    yield pinterest_standin
    pinterest_standin.reset()


@pytest.fixture
def bob_signed_in(other_user) -> Client:
    client = Client()
    client.force_login(other_user)
    return client


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
