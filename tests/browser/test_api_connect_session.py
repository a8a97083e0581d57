"""A connect session made through the backend API, completed by a person in Chromium."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectapp.connections.models import LinkedAccount, SiteUser
from connectapp.connections.services import apikeys
from connectapp.sandbox.pinterest import standin as pinterest_standin
from tests.browser.support import answer_at_pinterest

pytestmark = pytest.mark.browser


@pytest.fixture
def session_url(sandbox, live_server, settings, transactional_db) -> str:
    """A connect session for the site's user `site-42`, made by a backend over HTTP."""
    settings.CONNECTAPP_CONNECT_RETURN_ORIGINS = [live_server.url]
    pinterest_standin.reset()
    key = apikeys.create_key("site", ["connect_sessions:write"]).key
    answer = requests.post(
        f"{live_server.url}/api/v1/connect-sessions",
        json={
            "user": {"id": "site-42", "name": "Ada"},
            "providers": ["pinterest"],
            "return_url": f"{live_server.url}/healthz?back=1",
        },
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    yield answer.json()["url"]
    pinterest_standin.reset()


def test_a_connect_session_completes_in_chromium_and_cannot_be_reused(
    page, live_server, session_url, screenshot
):
    page.goto(session_url)
    page.get_by_role("heading", name="Connect your accounts").wait_for()
    screenshot("api-connect-session")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Connect Pinterest").click()
    answer_at_pinterest(page, "pinner")
    page.wait_for_url(f"{live_server.url}/healthz?**")

    outcome = {name: values[0] for name, values in parse_qs(urlsplit(page.url).query).items()}
    link = LinkedAccount.objects.get(provider="pinterest")
    assert outcome == {
        "back": "1",
        "connectapp_outcome": "connected",
        "provider": "pinterest",
        "connection": str(link.pk),
    }
    assert link.user == SiteUser.objects.get(site_id="site-42").user
    assert link.username == "pinner"

    page.goto(session_url)
    page.get_by_text("already used").wait_for()
    screenshot("api-connect-session-reused")
    assert LinkedAccount.objects.count() == 1
