"""`/connections`: list (filters, cursor pages), read and disconnect links over HTTP."""

import pytest

from connectapp.connections.api import connections as routes
from connectapp.connections.models import ConnectionEvent, LinkedAccount
from connectapp.connections.services.connect_sessions import local_user
from tests.api.conftest import assert_problem
from tests.factories import DiscogsAccountFactory, LinkedAccountFactory, UserFactory

LINK_FIELDS = {
    "id", "user", "provider", "external_id", "username", "status",
    "expires_at", "last_refreshed_at", "last_verified_at",
}  # fmt: skip


def test_a_link_has_the_fields_of_connections_list_json(api, user):
    link = LinkedAccountFactory(user=user, username="pinner")
    body = api.get(f"/connections/{link.pk}").json()
    assert set(body) >= LINK_FIELDS
    assert (body["id"], body["user"], body["provider"], body["username"], body["status"]) == (
        link.pk,
        "alice",
        "pinterest",
        "pinner",
        "active",
    )
    assert link.access_token not in str(body) and link.refresh_token not in str(body)


def test_links_are_filtered_by_provider_status_and_the_sites_user_id(api, transactional_db):
    site_user = local_user("site-7")
    mine = LinkedAccountFactory(user=site_user)
    DiscogsAccountFactory(user=site_user, status=LinkedAccount.Status.NEEDS_RECONNECT)
    LinkedAccountFactory(user=UserFactory())

    def ids(**query) -> list[int]:
        answer = api.get("/connections", params=query)
        assert answer.status_code == 200, answer.text
        return [link["id"] for link in answer.json()["items"]]

    assert ids(user="site-7", provider="pinterest") == [mine.pk]
    assert len(ids(user="site-7")) == 2
    assert ids(user="site-7", status="needs_reconnect") != [mine.pk]
    assert len(ids(status="active")) == 2
    assert ids(user="nobody") == []
    assert api.get(f"/connections/{mine.pk}").json()["site_user_id"] == "site-7"


def test_pages_follow_the_cursor_until_next_is_null(api, user, monkeypatch):
    monkeypatch.setattr(routes, "PAGE_SIZE", 2)
    links = [LinkedAccountFactory(user=user).pk for _ in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        page = api.get("/connections", params={"cursor": cursor} if cursor else {}).json()
        seen += [link["id"] for link in page["items"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert (seen, pages) == (links, 3)


@pytest.mark.parametrize("cursor", ["not-base64!", "YWJj", "LTE"])
def test_a_cursor_we_never_gave_out_is_a_422(api, cursor):
    assert_problem(api.get("/connections", params={"cursor": cursor}), 422)


def test_an_unknown_link_is_a_404_problem(api):
    assert_problem(api.get("/connections/999999"), 404)


def test_delete_disconnects_through_the_service_and_says_what_happened(api, user):
    link = DiscogsAccountFactory(user=user)
    answer = api.delete(f"/connections/{link.pk}")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": link.pk, "status": "revoked", "disconnected": True}
    link.refresh_from_db()
    assert (link.status, link.access_token, link.token_secret) == ("revoked", "", "")
    event = ConnectionEvent.objects.get(account=link, kind="disconnected")
    assert event.actor.startswith("api:cak_")
    assert "not revoked at the provider" in event.detail
    assert api.delete(f"/connections/{link.pk}").json()["disconnected"] is False
