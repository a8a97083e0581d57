"""The Discogs provider against the Discogs stand-in, over real HTTP.

The stand-in checks every OAuth 1.0a signature with oauthlib's server endpoints, so a passing
flow here means Authlib signed each request the way Discogs expects.
"""

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from urllib3.util import SKIP_HEADER

from connectapp import conf
from connectapp.connections.views import flow_status
from connectapp.exceptions import AccessRevoked, FlowDeclined, FlowError, ProviderUnavailable
from connectapp.providers import registry
from connectapp.providers.base import Identity, TokenSet
from connectapp.providers.discogs import DiscogsSession
from connectapp.sandbox.discogs import standin
from tests.support.discogs_support import answer_at_discogs
from tests.support.flows import query_of

CALLBACK = "http://testserver/connections/discogs/callback/"
USER_AGENT = "connectapp-tests/2.0 +https://example.com/about"


@pytest.fixture
def discogs_provider(discogs, settings):
    """The Discogs provider, pointed at the fresh stand-in."""
    settings.CONNECTAPP_USER_AGENT = USER_AGENT
    return registry.get("discogs")


def connect(provider, username: str = "crate-digger") -> TokenSet:
    """The whole protocol: request token, approval on the stand-in's page, access token."""
    authorization = provider.begin(CALLBACK)
    callback = answer_at_discogs(Client(), authorization.url, "approve", username)
    return provider.finish(query_of(callback), authorization.pending, CALLBACK)


@pytest.mark.parametrize("method", ["HMAC-SHA1", "PLAINTEXT"])
def test_the_whole_flow_is_signed_with_the_configured_method(
    discogs_provider, settings, sandbox, method
):
    settings.CONNECTAPP_DISCOGS_SIGNATURE_METHOD = method

    authorization = discogs_provider.begin(CALLBACK)
    assert authorization.url.startswith(f"{sandbox}/discogs/oauth/authorize?oauth_token=")
    assert query_of(authorization.url)["oauth_token"] == authorization.flow_key
    callback = answer_at_discogs(Client(), authorization.url, "approve", "crate-digger")
    assert callback.startswith(CALLBACK)
    tokens = discogs_provider.finish(query_of(callback), authorization.pending, CALLBACK)
    identity = discogs_provider.identity(tokens)

    assert identity == Identity(external_id="1000", username="crate-digger")
    grant = standin.grant(tokens.access_token)
    assert grant is not None
    assert tokens.token_secret == grant.secret
    calls = standin.calls()
    assert [call.endpoint for call in calls] == ["request_token", "access_token", "identity"]
    assert all(call.status == 200 for call in calls)
    assert {call.signature_method for call in calls} == {method}
    assert {call.user_agent for call in calls} == {USER_AGENT}


def test_the_request_token_secret_stays_server_side(discogs_provider):
    authorization = discogs_provider.begin(CALLBACK)
    secret = authorization.pending["token_secret"]
    assert secret
    assert secret not in authorization.url
    assert secret not in repr(authorization)


def test_a_callback_carrying_denied_is_declined(discogs_provider):
    authorization = discogs_provider.begin(CALLBACK)
    callback = answer_at_discogs(Client(), authorization.url, "deny")
    params = query_of(callback)

    assert params == {"denied": authorization.flow_key}
    assert discogs_provider.flow_key(params) == authorization.flow_key
    with pytest.raises(FlowDeclined):
        discogs_provider.finish(params, authorization.pending, CALLBACK)
    assert [call.endpoint for call in standin.calls()] == ["request_token"]


def test_a_callback_without_a_verifier_is_a_flow_error(discogs_provider):
    authorization = discogs_provider.begin(CALLBACK)
    with pytest.raises(FlowError, match="no verifier"):
        discogs_provider.finish(
            {"oauth_token": authorization.flow_key}, authorization.pending, CALLBACK
        )


def test_a_forged_verifier_is_refused_by_discogs(discogs_provider):
    authorization = discogs_provider.begin(CALLBACK)
    callback = answer_at_discogs(Client(), authorization.url, "approve")
    forged = {**query_of(callback), "oauth_verifier": "X" * 30}

    with pytest.raises(FlowError) as refusal:
        discogs_provider.finish(forged, authorization.pending, CALLBACK)
    assert flow_status(refusal.value) == 400
    assert standin.calls("access_token")[-1].status == 401
    assert standin.grants() == []


def test_an_access_token_is_issued_only_once_per_request_token(discogs_provider):
    authorization = discogs_provider.begin(CALLBACK)
    params = query_of(answer_at_discogs(Client(), authorization.url, "approve"))
    discogs_provider.finish(params, authorization.pending, CALLBACK)

    with pytest.raises(FlowError):
        discogs_provider.finish(params, authorization.pending, CALLBACK)
    assert len(standin.grants()) == 1


def test_wrong_app_credentials_are_reported_as_the_sites_problem(discogs_provider, settings):
    standin.register_app(conf.value("DISCOGS_CONSUMER_KEY"), "the-secret-discogs-really-has")
    for method in ("HMAC-SHA1", "PLAINTEXT"):
        settings.CONNECTAPP_DISCOGS_SIGNATURE_METHOD = method
        with pytest.raises(FlowError, match="application credentials") as refusal:
            discogs_provider.begin(CALLBACK)
        assert flow_status(refusal.value) == 502
    assert [call.status for call in standin.calls()] == [401, 401]


def test_an_unknown_signature_method_is_a_configuration_error(discogs_provider, settings):
    settings.CONNECTAPP_DISCOGS_SIGNATURE_METHOD = "RSA-SHA1"
    with pytest.raises(ImproperlyConfigured, match="DISCOGS_SIGNATURE_METHOD"):
        discogs_provider.begin(CALLBACK)
    assert standin.calls() == []


def test_identity_of_revoked_credentials_is_access_revoked(discogs_provider, settings):
    tokens = connect(discogs_provider)
    standin.revoke(token=tokens.access_token)

    with pytest.raises(AccessRevoked):
        discogs_provider.identity(tokens)
    assert standin.calls("identity")[-1].status == 401


def test_identity_of_unknown_credentials_is_access_revoked(discogs_provider):
    with pytest.raises(AccessRevoked):
        discogs_provider.identity(TokenSet(access_token="U" * 30, token_secret="S" * 30))


def test_identity_follows_a_changed_username(discogs_provider):
    tokens = connect(discogs_provider, "old-name")
    standin.rename_user("old-name", "new-name")
    assert discogs_provider.identity(tokens) == Identity(external_id="1000", username="new-name")


@pytest.mark.parametrize(
    ("fault", "retry_after"),
    [
        ({"kind": "error", "status": 500}, None),
        ({"kind": "error", "status": 503, "retry_after": 30}, 30.0),
        ({"kind": "rate_limit", "retry_after": 120}, 120.0),
        ({"kind": "garbage"}, None),
    ],
    ids=["500", "503-retry-after", "429-retry-after", "garbage"],
)
@pytest.mark.parametrize("step", ["request_token", "access_token", "identity"])
def test_outages_at_every_step_are_provider_unavailable(discogs_provider, step, fault, retry_after):
    authorization = discogs_provider.begin(CALLBACK)
    params = query_of(answer_at_discogs(Client(), authorization.url, "approve"))
    tokens = discogs_provider.finish(params, authorization.pending, CALLBACK)
    again = discogs_provider.begin(CALLBACK)
    again_params = query_of(answer_at_discogs(Client(), again.url, "approve"))
    standin.inject_fault(endpoint=step, **fault)

    with pytest.raises(ProviderUnavailable) as outage:
        if step == "request_token":
            discogs_provider.begin(CALLBACK)
        elif step == "access_token":
            discogs_provider.finish(again_params, again.pending, CALLBACK)
        else:
            discogs_provider.identity(tokens)
    assert outage.value.retry_after == retry_after


def test_a_slow_discogs_is_provider_unavailable(discogs_provider, settings):
    tokens = connect(discogs_provider)
    settings.CONNECTAPP_HTTP_TIMEOUT = 0.2
    standin.inject_fault("latency", "identity", delay=1.0)

    with pytest.raises(ProviderUnavailable, match="did not answer in time"):
        discogs_provider.identity(tokens)


def test_an_unreachable_discogs_is_provider_unavailable(discogs_provider, settings):
    settings.CONNECTAPP_DISCOGS_API_URL = "http://127.0.0.1:9/discogs"
    with pytest.raises(ProviderUnavailable, match="could not be reached"):
        discogs_provider.begin(CALLBACK)


def test_a_session_for_site_code_signs_requests_and_resolves_api_paths(discogs_provider):
    tokens = connect(discogs_provider)
    session = discogs_provider.session(tokens)

    response = session.get("/oauth/identity")

    assert isinstance(session, DiscogsSession)
    assert response.status_code == 200
    assert response.json()["username"] == "crate-digger"
    assert response.request.headers["User-Agent"] == USER_AGENT
    assert standin.calls("identity")[-1].user_agent == USER_AGENT


def test_a_session_leaves_discogs_answers_to_the_caller(discogs_provider):
    tokens = connect(discogs_provider)
    standin.revoke(token=tokens.access_token)
    assert discogs_provider.session(tokens).get("/oauth/identity").status_code == 401


@pytest.mark.parametrize("user_agent", [SKIP_HEADER, ""], ids=["missing", "empty"])
def test_the_stand_in_requires_a_user_agent(discogs_provider, sandbox, user_agent):
    for endpoint in ("oauth/request_token", "oauth/access_token", "oauth/identity"):
        response = requests.post(
            f"{sandbox}/discogs/{endpoint}", headers={"User-Agent": user_agent}, timeout=5
        )
        assert response.status_code == 403
        assert "User-Agent" in response.json()["message"]


def test_the_stand_in_refuses_a_replayed_signed_request(discogs_provider):
    tokens = connect(discogs_provider)
    client = discogs_provider.session(tokens)
    signed = client.prepare_request(
        requests.Request("GET", f"{discogs_provider._url('/oauth/identity')}", auth=client.auth)
    )
    first = requests.Session().send(signed, timeout=5)
    replay = requests.Session().send(signed, timeout=5)
    assert (first.status_code, replay.status_code) == (200, 401)


def test_the_stand_in_rate_limits_identity_like_discogs(discogs_provider):
    session = discogs_provider.session(connect(discogs_provider))
    answers = [session.get("/oauth/identity") for _ in range(61)]

    assert answers[0].headers["X-Discogs-Ratelimit"] == "60"
    assert answers[0].headers["X-Discogs-Ratelimit-Remaining"] == "59"
    assert answers[59].headers["X-Discogs-Ratelimit-Remaining"] == "0"
    assert [answer.status_code for answer in answers[:60]] == [200] * 60
    assert answers[60].status_code == 429
    with pytest.raises(ProviderUnavailable, match="rate limiting"):
        discogs_provider.identity(connect(discogs_provider, "someone-else"))


def test_the_stand_in_is_off_outside_sandbox_mode(discogs_provider, settings, sandbox):
    settings.CONNECTAPP_SANDBOX = False
    response = requests.get(f"{sandbox}/discogs/oauth/identity", timeout=5)
    assert response.status_code == 404
