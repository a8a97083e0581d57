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
    settings.CONNECTAPP_DISCOGS_CONSUMER_KEY = "sandbox-discogs-key"
    settings.CONNECTAPP_DISCOGS_CONSUMER_SECRET = "sandbox-discogs-secret"
    settings.CONNECTAPP_DISCOGS_API_URL = f"{base}/discogs"
    settings.CONNECTAPP_DISCOGS_AUTHORIZE_URL = f"{base}/discogs/oauth/authorize"
    settings.CONNECTAPP_PINTEREST_CLIENT_ID = "sandbox-pinterest-client"
    settings.CONNECTAPP_PINTEREST_CLIENT_SECRET = "sandbox-pinterest-secret"
    settings.CONNECTAPP_PINTEREST_API_URL = f"{base}/pinterest/v5"
    settings.CONNECTAPP_PINTEREST_AUTHORIZE_URL = f"{base}/pinterest/oauth/"
    return base
