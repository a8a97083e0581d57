"""The `sandbox` fixture: the built-in provider stand-ins, served by the live server.

Registered for the whole suite by `tests/conftest.py` (`pytest_plugins`).
"""

import pytest


@pytest.fixture
def sandbox(live_server, settings) -> str:
    """The built-in stand-ins served over real HTTP, with both providers pointed at them.

    Answers the stand-ins' base URL. The live server runs in a thread of this process, so the
    tests can also reach the stand-ins' state directly; other processes reach it over HTTP.
    """
    base = f"{live_server.url}/sandbox"
    settings.CONNECTAPP_SANDBOX = True
    settings.ROOT_URLCONF = "tests.urls"
    settings.CONNECTAPP_SANDBOX_URL = base
    settings.DISCOGS_CONSUMER_KEY = "sandbox-discogs-key"
    settings.DISCOGS_CONSUMER_SECRET = "sandbox-discogs-secret"
    settings.DISCOGS_API_URL = f"{base}/discogs"
    settings.DISCOGS_AUTHORIZE_URL = f"{base}/discogs/oauth/authorize"
    settings.PINTEREST_CLIENT_ID = "sandbox-pinterest-client"
    settings.PINTEREST_CLIENT_SECRET = "sandbox-pinterest-secret"
    settings.PINTEREST_API_URL = f"{base}/pinterest/v5"
    settings.PINTEREST_AUTHORIZE_URL = f"{base}/pinterest/oauth/"
    return base
