"""A person in Chromium (JavaScript off) signs in and manages their connections.

Each test drives the real app and the built-in stand-ins over HTTP, and saves screenshots of
the pages it passes through under `test-artifacts/screenshots/`.
"""

import pytest
from django.core import mail
from django.test import Client

from connectapp.connections import services
from connectapp.connections.models import ConnectionEvent, LinkedAccount
from connectapp.sandbox.discogs import standin as discogs_standin
from connectapp.sandbox.pinterest import standin as pinterest_standin
from tests.browser.support import (
    account,
    answer_at_discogs,
    answer_at_pinterest,
    card,
    connect,
    press_connect,
    sign_in,
    status_line,
)
from tests.factories import DiscogsAccountFactory, UserFactory
from tests.support import discogs_support

pytestmark = pytest.mark.browser

Status = LinkedAccount.Status


@pytest.fixture(autouse=True)
def asked_scopes(settings) -> None:
    settings.CONNECTAPP_PINTEREST_SCOPES = ["user_accounts:read", "boards:read", "pins:read"]


@pytest.fixture
def base_url(live_server) -> str:
    return live_server.url


def test_sign_in_and_see_a_card_per_provider(page, base_url, standins, user, screenshot):
    page.goto(f"{base_url}/connections/")
    assert page.url.startswith(f"{base_url}/accounts/login/")
    screenshot("sign-in")

    sign_in(page, base_url, user.username)

    assert page.get_by_role("heading", name="Your connections").is_visible()
    assert page.get_by_role("heading", name="Discogs", exact=True).is_visible()
    assert page.get_by_role("heading", name="Pinterest", exact=True).is_visible()
    assert card(page, "discogs").get_by_text("Not connected").is_visible()
    pinterest = card(page, "pinterest")
    assert pinterest.get_by_text("Connecting lets this site:").is_visible()
    for words in ("See your Pinterest profile", "See your public boards", "See your public Pins"):
        assert pinterest.get_by_role("listitem").filter(has_text=words).is_visible()
    assert page.get_by_role("button", name="Connect Discogs").is_visible()
    assert page.get_by_role("button", name="Connect Pinterest").is_visible()
    screenshot("connections-empty")


def test_connect_discogs_and_pinterest_and_see_both_cards(
    page, phone, base_url, standins, user, screenshot
):
    sign_in(page, base_url, user.username)

    press_connect(page, "Discogs")
    screenshot("discogs-authorize")
    answer_at_discogs(page, "crate-digger")
    page.wait_for_url(f"{base_url}/connections/")
    assert status_line(page) == "Connected Discogs as crate-digger."

    press_connect(page, "Pinterest")
    screenshot("pinterest-authorize")
    answer_at_pinterest(page, "pin-collector")
    page.wait_for_url(f"{base_url}/connections/")
    assert status_line(page) == "Connected Pinterest as pin-collector."

    discogs = account(card(page, "discogs"), "crate-digger")
    pinterest = account(card(page, "pinterest"), "pin-collector")
    for linked in (discogs, pinterest):
        assert linked.locator(".badge").inner_text() == "Active"
        assert "Last checked just now" in " ".join(linked.locator(".facts").inner_text().split())
        assert linked.get_by_role("button", name="Reconnect").is_visible()
        assert linked.get_by_role("link", name="Disconnect…").is_visible()
    assert "Never" in discogs.locator(".facts").inner_text()
    assert "renewed automatically" in pinterest.locator(".facts").inner_text()
    assert (
        card(page, "pinterest")
        .get_by_role("button", name="Connect another Pinterest account")
        .is_visible()
    )
    page_text = page.content()
    for link in LinkedAccount.objects.all():
        assert link.access_token not in page_text
    screenshot("connections-both")

    sign_in(phone, base_url, user.username)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("connections-both-phone", of=phone)


@pytest.mark.parametrize(
    ("display_name", "answer"),
    [("Discogs", answer_at_discogs), ("Pinterest", answer_at_pinterest)],
)
def test_declining_at_the_provider_says_so_and_stores_nothing(
    page, base_url, standins, user, screenshot, display_name, answer
):
    sign_in(page, base_url, user.username)

    press_connect(page, display_name)
    answer(page, "second-thoughts", approve=False)
    page.wait_for_url(f"{base_url}/connections/")

    assert status_line(page) == (
        f"You declined the connection at {display_name}. Nothing was stored."
    )
    assert card(page, display_name.lower()).get_by_text("Not connected").is_visible()
    assert not LinkedAccount.objects.exists()
    screenshot(f"declined-{display_name.lower()}")


def test_disconnecting_asks_for_confirmation_first(page, base_url, standins, user, screenshot):
    link = DiscogsAccountFactory(user=user, username="crate-digger")
    sign_in(page, base_url, user.username)

    account(page, "crate-digger").get_by_role("link", name="Disconnect…").click()
    assert page.get_by_role("heading", name="Disconnect Discogs?").is_visible()
    assert page.get_by_text("remove this site from the authorized apps in your").is_visible()
    screenshot("disconnect-confirm")
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(f"{base_url}/connections/")
    link.refresh_from_db()
    assert link.status == Status.ACTIVE

    account(page, "crate-digger").get_by_role("link", name="Disconnect…").click()
    page.get_by_role("button", name="Disconnect", exact=True).click()
    page.wait_for_url(f"{base_url}/connections/")

    assert status_line(page) == "Disconnected Discogs account crate-digger."
    assert account(page, "crate-digger").count() == 0
    assert card(page, "discogs").get_by_text("Not connected").is_visible()
    link.refresh_from_db()
    assert link.status == Status.REVOKED
    screenshot("disconnected")


def test_a_link_discogs_refuses_asks_for_a_reconnect_on_the_page_and_by_mail(
    page, phone, base_url, standins, user, screenshot
):
    sign_in(page, base_url, user.username)
    connect(page, base_url, "Discogs", "crate-digger")
    connect(page, base_url, "Pinterest", "pin-collector")
    link = LinkedAccount.objects.get(provider="discogs")
    mail.outbox.clear()

    assert discogs_standin.revoke(token=link.access_token)
    assert services.verify(link.pk) == "needs_reconnect"
    page.goto(f"{base_url}/connections/")

    attention = page.get_by_role("region", name="One connection needs your attention")
    assert "Discogs · crate-digger: needs reconnecting" in attention.inner_text()
    refused = account(page, "crate-digger")
    assert refused.locator(".badge").inner_text() == "Needs reconnect"
    assert "Discogs no longer accepts this connection. Reconnect to keep it working." in (
        refused.inner_text()
    )
    assert "Stopped working" in refused.locator(".facts").inner_text()
    (message,) = mail.outbox
    assert message.to == [user.email]
    assert message.subject == "Reconnect your Discogs account"
    screenshot("needs-reconnect")
    sign_in(phone, base_url, user.username)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("needs-reconnect-phone", of=phone)

    refused.get_by_role("button", name="Reconnect").click()
    answer_at_discogs(page, "crate-digger")
    page.wait_for_url(f"{base_url}/connections/")

    assert status_line(page) == "Connected Discogs as crate-digger."
    assert page.get_by_role("region", name="needs your attention").count() == 0
    assert account(page, "crate-digger").locator(".badge").inner_text() == "Active"
    link.refresh_from_db()
    assert link.status == Status.ACTIVE
    assert link.events.filter(kind=ConnectionEvent.Kind.RECONNECTED).exists()


def test_an_account_linked_to_someone_else_gets_a_helpful_page(
    page, base_url, standins, user, screenshot
):
    bob = Client()
    bob.force_login(UserFactory(username="bob"))
    assert bob.get(discogs_support.approve(bob, "shared-crate")).status_code == 302
    sign_in(page, base_url, user.username)
    press_connect(page, "Discogs")

    answer_at_discogs(page, "shared-crate")

    heading = page.get_by_role("heading", name="This account is already connected to someone else")
    assert heading.is_visible()
    assert "already connected to another user here" in page.get_by_role("alert").inner_text()
    assert page.get_by_text("Nothing was changed.").is_visible()
    screenshot("linked-elsewhere")

    page.get_by_role("button", name="Connect a different account").click()
    answer_at_discogs(page, "my-own-crate")
    page.wait_for_url(f"{base_url}/connections/")
    assert status_line(page) == "Connected Discogs as my-own-crate."


def test_a_provider_outage_gets_a_try_again_page(page, base_url, standins, user, screenshot):
    sign_in(page, base_url, user.username)
    pinterest_standin.inject_fault("error", "token", status=503)
    press_connect(page, "Pinterest")

    answer_at_pinterest(page, "pin-collector")

    assert page.get_by_role("heading", name="Pinterest is unavailable right now").is_visible()
    assert "Please try again in a few minutes" in page.get_by_role("alert").inner_text()
    assert not LinkedAccount.objects.exists()
    screenshot("provider-unavailable")

    page.get_by_role("button", name="Try again").click()
    answer_at_pinterest(page, "pin-collector")
    page.wait_for_url(f"{base_url}/connections/")
    assert status_line(page) == "Connected Pinterest as pin-collector."


def test_the_keyboard_reaches_every_action_in_order(page, base_url, standins, user):
    DiscogsAccountFactory(user=user, username="crate-digger")
    sign_in(page, base_url, user.username)

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent.trim()"))
    expected = [
        "Reconnect Discogs account crate-digger",
        "Disconnect… Discogs account crate-digger",
        "Connect another Discogs account",
        "Connect Pinterest",
    ]
    positions = [reached.index(name) for name in expected]
    assert positions == sorted(positions)
