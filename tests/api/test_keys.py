"""API keys: made once and kept as a hash, scoped, limited to providers, revocable, rate
limited on the shared Redis, and what they used counted in admin."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from connectapp.connections.models import ApiKey, ApiUsage
from connectapp.connections.services import apikeys
from tests.api.conftest import ALL_SCOPES, Api, assert_problem
from tests.factories import DiscogsAccountFactory, LinkedAccountFactory, UserFactory
from tests.support.pinterest_support import pinterest_link

#: Every endpoint, with the scope it needs (`{id}` is a link the key may otherwise see).
ENDPOINTS = [
    ("GET", "/connections", "connections:read"),
    ("GET", "/connections/{id}", "connections:read"),
    ("DELETE", "/connections/{id}", "connections:read"),
    ("GET", "/connections/{id}/credentials", "credentials:read"),
    ("GET", "/connections/{id}/proxy/user_account", "proxy"),
    ("POST", "/connect-sessions", "connect_sessions:write"),
]
SESSION_BODY = {
    "user": {"id": "site-42"},
    "providers": ["pinterest"],
    "return_url": "https://site.example/done",
}


def call(api: Api, method: str, path: str, link_id: int):
    body = SESSION_BODY if path == "/connect-sessions" else None
    return api.request(method, path.format(id=link_id), json=body)


def test_the_command_prints_the_key_once_alone_on_the_last_line(transactional_db):
    out = io.StringIO()
    call_command(
        "connections",
        "api-key",
        "create",
        "--name",
        "billing",
        "--scopes",
        "credentials:read,proxy",
        "--providers",
        "pinterest",
        stdout=out,
    )
    key = out.getvalue().strip().splitlines()[-1]
    assert re.fullmatch(r"cak_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", key)
    stored = ApiKey.objects.get()
    assert (stored.name, stored.scopes, stored.providers) == (
        "billing",
        ["credentials:read", "proxy"],
        ["pinterest"],
    )
    assert stored.key_hash == apikeys.digest(key)
    assert key not in str(ApiKey.objects.values().get())
    assert key.startswith(stored.prefix)


@pytest.mark.parametrize(
    "scopes, providers", [("credentials:read,everything", ""), ("proxy", "myspace")]
)
def test_the_command_refuses_unknown_scopes_and_providers(transactional_db, scopes, providers):
    with pytest.raises(CommandError):
        call_command(
            "connections", "api-key", "create", "--name", "x", "--scopes", scopes,
            "--providers", providers, stdout=io.StringIO(),
        )  # fmt: skip
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize("method, path, scope", ENDPOINTS)
def test_every_endpoint_refuses_a_key_without_its_scope(client_for, user, method, path, scope):
    link = pinterest_link(user, expires_in=timedelta(days=10))
    api = client_for([other for other in ALL_SCOPES if other != scope])
    body = assert_problem(call(api, method, path, link.pk), 403)
    assert scope in body["detail"]
    link.refresh_from_db()
    assert link.status == "active"


@pytest.mark.parametrize("method, path, scope", ENDPOINTS)
def test_every_endpoint_refuses_missing_unknown_and_revoked_keys(
    api_base, standins, make_key, user, method, path, scope
):
    link = LinkedAccountFactory(user=user)
    revoked = make_key()
    apikeys.revoke(revoked.api_key.pk)
    for key in (None, "cak_00000000_not-a-key-we-made", revoked.key, "Basic abc"):
        assert_problem(call(Api(api_base, key), method, path, link.pk), 401)
    assert not ApiUsage.objects.exists()


def test_a_key_limited_to_a_provider_sees_only_its_links(client_for, user):
    pinterest = LinkedAccountFactory(user=user)
    discogs = DiscogsAccountFactory(user=user)
    api = client_for(providers=["pinterest"])
    listed = api.get("/connections").json()["items"]
    assert [link["id"] for link in listed] == [pinterest.pk]
    for path in ("/connections/{}", "/connections/{}/credentials", "/connections/{}/proxy/x"):
        assert_problem(api.get(path.format(discogs.pk)), 404)
    assert api.get(f"/connections/{pinterest.pk}").status_code == 200


def test_past_its_rate_limit_a_key_gets_429_with_retry_after(client_for, settings):
    api = client_for()
    other = client_for()
    settings.CONNECTAPP_API_RATE_LIMIT = "3/60"
    answers = [api.get("/connections").status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    refused = api.get("/connections")
    assert_problem(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert other.get("/connections").status_code == 200  # the limit is per key


def test_the_rate_limit_is_counted_on_the_shared_redis(make_key, redis_url, settings):
    settings.CONNECTAPP_REDIS_URL = redis_url
    settings.CONNECTAPP_API_RATE_LIMIT = "2/60"
    api_key = make_key().api_key
    apikeys._local._counts.clear()
    assert [apikeys.take_request(api_key).allowed for _ in range(3)] == [True, True, False]
    assert not apikeys._local._counts  # nothing was counted in this process alone


def test_last_used_time_is_kept(client_for):
    api = client_for()
    assert ApiKey.objects.get().last_used_at is None
    api.get("/connections")
    assert ApiKey.objects.get().last_used_at is not None


def test_admin_makes_a_key_shows_it_once_and_lists_usage(api_base, standins, admin_client):
    page = admin_client.post(
        "/admin/connections/apikey/add/",
        {"name": "from admin", "scopes": ["credentials:read"], "providers": ["pinterest"]},
        follow=True,
    )
    assert page.status_code == 200
    assert "errorlist" not in page.content.decode(), page.content.decode()
    key = re.search(r"<code>(cak_[^<]+)</code>", page.content.decode())[1]
    stored = ApiKey.objects.get(name="from admin")
    assert stored.key_hash == apikeys.digest(key)
    assert stored.providers == ["pinterest"]
    again = admin_client.get(f"/admin/connections/apikey/{stored.pk}/change/")
    assert key not in again.content.decode()

    link = LinkedAccountFactory(user=UserFactory(), expires_at=None)
    api = Api(api_base, key)
    assert api.get(f"/connections/{link.pk}/credentials").status_code == 200
    assert api.get(f"/connections/{link.pk}/credentials").status_code == 200
    usage = ApiUsage.objects.get(key=stored)
    assert (usage.account_id, usage.kind, usage.count) == (link.pk, "credentials", 2)
    listing = admin_client.get("/admin/connections/apiusage/")
    assert stored.prefix in listing.content.decode()
    assert link.access_token not in listing.content.decode()


def test_admin_revokes_keys(client_for, admin_client):
    api = client_for()
    assert api.get("/connections").status_code == 200
    key = ApiKey.objects.get()
    admin_client.post(
        "/admin/connections/apikey/",
        {"action": "revoke_keys", "_selected_action": [key.pk]},
    )
    assert_problem(api.get("/connections"), 401)
