"""What the browser tests do the way a person does: sign in, press buttons, answer at a provider."""

from playwright.sync_api import Locator, Page

from tests.conftest import PASSWORD


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/connections/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/connections/")


def card(page: Page, provider: str) -> Locator:
    """A provider's card on the connections page."""
    return page.locator(f"#provider-{provider}")


def press_connect(page: Page, display_name: str) -> None:
    """Press the card's connect button: "Connect X" or "Connect another X account"."""
    card(page, display_name.lower()).get_by_role("button", name=f"Connect {display_name}").or_(
        card(page, display_name.lower()).get_by_role(
            "button", name=f"Connect another {display_name} account"
        )
    ).click()


def answer_at_discogs(page: Page, username: str, *, approve: bool = True) -> None:
    """On the Discogs stand-in's authorize page: authorize as `username`, or deny."""
    page.get_by_role("heading", name="Authorize access to your Discogs account").wait_for()
    page.get_by_label("Signed in at Discogs as").fill(username)
    page.get_by_role("button", name="Authorize" if approve else "Deny").click()


def answer_at_pinterest(page: Page, username: str, *, approve: bool = True) -> None:
    """On the Pinterest stand-in's authorize page: give access as `username`, or cancel."""
    page.get_by_role("heading", name="Give access to your Pinterest account?").wait_for()
    page.get_by_label("Signed in at Pinterest as").fill(username)
    page.get_by_role("button", name="Give access" if approve else "Cancel").click()


def connect(page: Page, base_url: str, display_name: str, username: str) -> None:
    """Connect an account end to end and land back on the connections page."""
    press_connect(page, display_name)
    if display_name == "Discogs":
        answer_at_discogs(page, username)
    else:
        answer_at_pinterest(page, username)
    page.wait_for_url(f"{base_url}/connections/")


def account(scope: Page | Locator, username: str) -> Locator:
    """One linked account on the page (or in a card), found by its name."""
    page = scope if isinstance(scope, Page) else scope.page
    return scope.locator("article.account").filter(
        has=page.locator("h3.account-name", has_text=username)
    )


def status_line(page: Page) -> str:
    """The flash messages shown after a flow, as one string."""
    return page.get_by_role("status").inner_text()
