"""Shared fixtures. The suite runs against real PostgreSQL and a real Redis broker.

When they are missing the run fails with a message saying so; nothing is skipped.
"""

import os

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client

from connectapp.connections.infra import store
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"

#: The stand-in fixtures and the real-worker fixture live in tests/support, shared with bench/.
pytest_plugins = [
    "tests.support.sandbox",
    "tests.support.standins",
    "tests.support.workers",
    "tests.support.webhook_receiver",
    "tests.support.providers_file",
]


def pytest_sessionstart(session):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        problems = []
        if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
            problems.append("DATABASE_URL must point at PostgreSQL under CI")
        if not settings.CELERY_BROKER_URL.startswith("redis://"):
            problems.append("CELERY_BROKER_URL must point at Redis under CI")
        if problems:
            pytest.exit("; ".join(problems), returncode=3)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis broker of this run; a test that needs it fails when it does not answer."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        pytest.fail(f"this test needs a Redis broker: set CELERY_BROKER_URL=redis://… (is {url!r})")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as problem:
        pytest.fail(f"Redis at {url} does not answer: {problem}")
    return url


@pytest.fixture(autouse=True)
def _empty_cache():
    """Rate-limit counts, counters and written-ahead tokens in the shared store (Redis when the
    broker is) and markers in the cache do not outlive a test."""
    cache.clear()
    store.clear()
    yield
    cache.clear()
    store.clear()


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    """Providers are not rate limited here unless a test says so (tests/workers does)."""
    settings.CONNECTAPP_RATE_LIMITS = {}


@pytest.fixture
def quick_password_hashing(settings) -> None:
    """Many owners are made; their passwords need not be expensive to hash."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def configured_providers(settings) -> None:
    """Both providers have app credentials, so the site offers them (no test reaches them
    with these: a test that calls a provider points it at a stand-in)."""
    settings.CONNECTAPP_DISCOGS_CONSUMER_KEY = "key"
    settings.CONNECTAPP_DISCOGS_CONSUMER_SECRET = "secret"
    settings.CONNECTAPP_PINTEREST_CLIENT_ID = "id"
    settings.CONNECTAPP_PINTEREST_CLIENT_SECRET = "secret"


@pytest.fixture
def postgres(db) -> None:
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL: set DATABASE_URL=postgres://…")


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_user(db):
    return UserFactory(username="bob")


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def bob_signed_in(other_user) -> Client:
    """A second browser, signed in as bob."""
    client = Client()
    client.force_login(other_user)
    return client
