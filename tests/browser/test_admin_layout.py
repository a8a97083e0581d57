"""The admin page of a link in Chromium: its action buttons never cover the page title.

Measures the bounding boxes of the title and of every button in the row of object tools
(refresh, verify, disconnect, mark, history) at a desktop and a phone width.
"""

import pytest

from tests.conftest import PASSWORD
from tests.factories import DiscogsAccountFactory, UserFactory

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}


def _overlap(one: dict, other: dict) -> bool:
    """Return whether two bounding boxes share any area."""
    return (
        one["x"] < other["x"] + other["width"]
        and other["x"] < one["x"] + one["width"]
        and one["y"] < other["y"] + other["height"]
        and other["y"] < one["y"] + one["height"]
    )


@pytest.fixture
def link(db):
    return DiscogsAccountFactory(username="crate-digger")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_action_buttons_do_not_overlap_the_title(
    chromium, live_server, link, admin_user, width, screenshot
):
    context = chromium.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/admin/login/")
        page.get_by_label("Username").fill(admin_user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{live_server.url}/admin/connections/linkedaccount/{link.pk}/change/")

        headings = page.locator("#content > h1, #content > h2")
        titles = [headings.nth(index).bounding_box() for index in range(headings.count())]
        tools = page.locator(".object-tools > li")
        names = [name.strip().lower() for name in tools.all_inner_texts()]
        boxes = [tools.nth(index).bounding_box() for index in range(tools.count())]
        screenshot(f"admin-link-{width}", of=page)

        assert any("refresh" in name for name in names), names
        assert any("history" in name for name in names), names
        assert len(boxes) >= 5, names
        assert len(titles) == 2, "the page's title and subtitle"
        viewport = page.viewport_size["width"]
        for name, box in zip(names, boxes, strict=True):
            for title in titles:
                assert not _overlap(title, box), f"{name!r} covers the title at {width}"
            assert box["x"] >= 0 and box["x"] + box["width"] <= viewport, f"{name!r} is cut off"
        for index, box in enumerate(boxes):
            for other in boxes[index + 1 :]:
                assert not _overlap(box, other), f"buttons overlap at {width}: {names}"
    finally:
        context.close()
