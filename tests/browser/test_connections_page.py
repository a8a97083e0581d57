"""A person in Chromium signs in and manages their connections."""

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/connections/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/connections/")


def test_sign_in_and_see_a_card_per_provider(page, live_server, sandbox, user, screenshot):
    sign_in(page, live_server, user.username)

    assert page.get_by_role("heading", name="Your connections").is_visible()
    assert page.get_by_role("heading", name="Discogs").is_visible()
    assert page.get_by_role("heading", name="Pinterest").is_visible()
    assert page.get_by_role("button", name="Connect Discogs").is_visible()
    assert page.get_by_role("button", name="Connect Pinterest").is_visible()
    screenshot("connections-empty")
