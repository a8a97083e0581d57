"""`/connections/{id}/proxy/{path}`: calls reach only the provider's API base, with the link's
auth and none of the caller's, under the provider's rate limit, retried and refreshed within
bounds, and streamed back with a size cap."""

from datetime import timedelta

import pytest

from connectapp import conf
from connectapp.connections.models import ApiUsage
from connectapp.sandbox.discogs import standin as discogs_standin
from connectapp.sandbox.pinterest import standin as pinterest_standin
from tests.api.conftest import assert_problem
from tests.api.receiver import Receiver
from tests.factories import DiscogsAccountFactory, LinkedAccountFactory
from tests.support.pinterest_support import pinterest_link
from tests.support.providers_file import generic_provider

CALLER_HEADERS = {"Cookie": "sessionid=caller-cookie", "X-Caller": "mine"}


@pytest.fixture
def echo_link(receiver, use_providers, user):
    """A link to a configured generic provider whose API base is the receiver."""
    use_providers(
        generic_provider(
            "echo", receiver, userinfo_url=f"{receiver}/me", api_base_url=f"{receiver}/api"
        )
    )
    return LinkedAccountFactory(user=user, provider="echo", access_token="echo-access-token")


def test_pinterest_calls_carry_the_links_bearer_token_not_the_callers(api, user):
    link = pinterest_link(user, expires_in=timedelta(days=10))
    answer = api.get(f"/connections/{link.pk}/proxy/user_account", headers=CALLER_HEADERS)
    assert answer.status_code == 200, answer.text
    assert answer.json()["username"] == "pinner"
    (call,) = pinterest_standin.calls("user_account")
    assert (call.auth_scheme, call.status) == ("Bearer", 200)
    assert ApiUsage.objects.get(account=link, kind="proxy").count == 1


def test_discogs_calls_are_signed_and_carry_the_user_agent(api, user, settings):
    grant = discogs_standin.issue_access_token(conf.value("DISCOGS_CONSUMER_KEY"), "crate-digger")
    link = DiscogsAccountFactory(user=user, access_token=grant.token, token_secret=grant.secret)
    answer = api.get(f"/connections/{link.pk}/proxy/oauth/identity", headers=CALLER_HEADERS)
    assert answer.status_code == 200, answer.text
    assert answer.json()["username"] == "crate-digger"
    (call,) = discogs_standin.calls("identity")
    assert (call.user_agent, call.status) == (settings.CONNECTAPP_USER_AGENT, 200)
    assert "x-discogs-ratelimit" in {name.lower() for name in answer.headers}


def test_the_callers_authorization_and_cookies_never_reach_the_provider(api, echo_link):
    answer = api.post(
        f"/connections/{echo_link.pk}/proxy/things/1?page=2",
        headers={**CALLER_HEADERS, "Content-Type": "application/json"},
        data=b'{"a": 1}',
    )
    assert answer.status_code == 200, answer.text
    seen = answer.json()
    headers = {name.lower(): value for name, value in seen["headers"].items()}
    assert headers["authorization"] == "Bearer echo-access-token"
    assert "cookie" not in headers and "x-caller" not in headers
    assert (seen["method"], seen["path"], seen["body"]) == (
        "POST",
        "/api/things/1?page=2",
        '{"a": 1}',
    )
    assert "set-cookie" not in {name.lower() for name in answer.headers}


@pytest.mark.parametrize(
    "path",
    [
        "..%2F..%2Fsecret",
        "a/%2E%2E/%2e%2e/secret",
        "http://127.0.0.1:9/x",
        "%2F%2Fevil.example/x",
        "https:%2F%2Fevil.example/x",
    ],
)
def test_paths_out_of_the_api_base_are_refused(api, echo_link, path):
    assert_problem(api.get(f"/connections/{echo_link.pk}/proxy/{path}"), 400)
    assert Receiver.seen == []


def test_redirects_are_passed_back_not_followed(api, echo_link):
    answer = api.get(f"/connections/{echo_link.pk}/proxy/redirect")
    assert answer.status_code == 302
    assert len(Receiver.seen) == 1


def test_outages_are_retried_within_the_bound(api, echo_link):
    Receiver.flaky_left = 2
    assert api.get(f"/connections/{echo_link.pk}/proxy/flaky").status_code == 200
    assert len(Receiver.seen) == 3
    Receiver.seen.clear()
    Receiver.flaky_left = 10
    assert api.get(f"/connections/{echo_link.pk}/proxy/flaky").status_code == 503
    assert len(Receiver.seen) == 3


def test_answers_are_cut_off_at_the_size_cap(api, echo_link, settings):
    settings.CONNECTAPP_PROXY_MAX_BYTES = 10_000
    answer = api.get(f"/connections/{echo_link.pk}/proxy/big")
    assert answer.status_code == 200
    assert len(answer.content) <= 10_000


def test_a_refused_token_is_refreshed_once_then_the_call_retried(api, user):
    link = pinterest_link(user, expires_in=timedelta(days=10))
    link.access_token = "not-a-live-token"
    link.save()
    answer = api.get(f"/connections/{link.pk}/proxy/user_account")
    assert answer.status_code == 200, answer.text
    # The refused call, the refresh's check that the new token is the same account's, the retry.
    assert [call.status for call in pinterest_standin.calls("user_account")] == [401, 200, 200]
    assert len(pinterest_standin.calls("token")) == 1


def test_a_link_whose_refresh_is_refused_answers_409(api, user):
    link = pinterest_link(user, expires_in=timedelta(days=10))
    pinterest_standin.revoke_user("pinner")
    assert_problem(api.get(f"/connections/{link.pk}/proxy/user_account"), 409)


def test_the_shared_provider_rate_limit_answers_429_when_it_would_outlast_the_deadline(
    api, user, settings
):
    link = pinterest_link(user, expires_in=timedelta(days=10))
    settings.CONNECTAPP_RATE_LIMITS = {"pinterest": "1/h"}
    settings.CONNECTAPP_PROXY_DEADLINE_SECONDS = 3
    assert api.get(f"/connections/{link.pk}/proxy/user_account").status_code == 200
    refused = assert_problem(api.get(f"/connections/{link.pk}/proxy/user_account"), 429)
    assert refused["status"] == 429
    assert len(pinterest_standin.calls("user_account")) == 1
