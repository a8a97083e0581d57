"""The Pinterest provider against the Pinterest stand-in, over real HTTP.

The stand-in accepts only HTTP Basic client authentication, form bodies, comma-joined scopes,
single-use codes bound to their redirect URI and PKCE verifier, and rotating refresh tokens, so
a passing flow here means Authlib spoke to it the way Pinterest expects.
"""

import base64
import hashlib
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from connectapp.exceptions import AccessRevoked, FlowDeclined, FlowError, ProviderUnavailable
from connectapp.providers import registry
from connectapp.providers.base import Identity, TokenSet
from connectapp.providers.oauth2 import OAuth2Provider
from connectapp.sandbox.pinterest import standin
from tests.support.flows import query_of
from tests.support.pinterest_support import CALLBACK, answer_at_pinterest

USER_AGENT = "connectapp-tests/2.0 +https://example.com/about"


@pytest.fixture
def pinterest_provider(pinterest, settings):
    """The Pinterest provider, pointed at the fresh stand-in."""
    settings.CONNECTAPP_USER_AGENT = USER_AGENT
    settings.CONNECTAPP_PINTEREST_SCOPES = ["user_accounts:read", "boards:read"]
    return registry.get("pinterest")


def connect(provider, username: str = "pinner") -> TokenSet:
    authorization = provider.begin(CALLBACK)
    callback = answer_at_pinterest(authorization.url, "approve", username)
    return provider.finish(query_of(callback), authorization.pending, CALLBACK)


def issued(username: str = "pinner") -> TokenSet:
    """Tokens the stand-in issued, as the services would hand them to the provider."""
    answer = standin.issue_tokens(username)
    return TokenSet(access_token=answer["access_token"], refresh_token=answer["refresh_token"])


def test_the_authorize_url_is_pinterests_with_comma_joined_scopes_state_and_pkce(
    pinterest_provider, sandbox
):
    authorization = pinterest_provider.begin(CALLBACK)

    assert authorization.url.startswith(f"{sandbox}/pinterest/oauth/?")
    query = query_of(authorization.url)
    assert query["client_id"] == "sandbox-pinterest-client"
    assert query["redirect_uri"] == CALLBACK
    assert query["response_type"] == "code"
    assert query["scope"] == "user_accounts:read,boards:read"
    assert query["state"] == authorization.flow_key
    assert len(authorization.flow_key) >= 32
    verifier = authorization.pending["code_verifier"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert query["code_challenge"] == digest.decode()
    assert query["code_challenge_method"] == "S256"
    assert verifier not in authorization.url


def test_every_flow_gets_its_own_state_and_verifier(pinterest_provider):
    first, second = pinterest_provider.begin(CALLBACK), pinterest_provider.begin(CALLBACK)
    assert first.flow_key != second.flow_key
    assert first.pending["code_verifier"] != second.pending["code_verifier"]


def test_the_whole_flow_over_http_with_basic_auth_and_the_user_agent(pinterest_provider):
    tokens = connect(pinterest_provider, "pin-collector")
    identity = pinterest_provider.identity(tokens)

    assert identity == Identity(
        external_id=standin.user_id("pin-collector"), username="pin-collector"
    )
    assert tokens.access_token.startswith("pina_")
    assert tokens.refresh_token.startswith("pinr_")
    assert tokens.scopes == ("user_accounts:read", "boards:read")
    now = timezone.now()
    assert now + timedelta(days=29) < tokens.expires_at <= now + timedelta(days=30)
    assert now + timedelta(days=364) < tokens.refresh_expires_at <= now + timedelta(days=365)
    token_call, identity_call = standin.calls()
    assert (token_call.endpoint, token_call.grant_type) == ("token", "authorization_code")
    assert token_call.auth_scheme == "Basic"
    assert identity_call.auth_scheme == "Bearer"
    assert {token_call.user_agent, identity_call.user_agent} == {USER_AGENT}


def test_a_declined_authorization_is_reported_as_declined(pinterest_provider):
    authorization = pinterest_provider.begin(CALLBACK)
    callback = answer_at_pinterest(authorization.url, "deny")

    assert query_of(callback) == {"error": "access_denied", "state": authorization.flow_key}
    with pytest.raises(FlowDeclined):
        pinterest_provider.finish(query_of(callback), authorization.pending, CALLBACK)
    assert standin.calls() == []


@pytest.mark.parametrize(
    "params", [{"error": "server_error", "state": "s"}, {"state": "s"}, {"code": "", "state": "s"}]
)
def test_a_callback_without_a_code_is_a_flow_error(pinterest_provider, params):
    with pytest.raises(FlowError):
        pinterest_provider.finish(params, {"code_verifier": "v" * 64}, CALLBACK)
    assert standin.calls() == []


def test_a_code_works_once_and_a_replay_revokes_what_it_bought(pinterest_provider):
    authorization = pinterest_provider.begin(CALLBACK)
    params = query_of(answer_at_pinterest(authorization.url))
    tokens = pinterest_provider.finish(params, authorization.pending, CALLBACK)

    with pytest.raises(AccessRevoked, match="Invalid authorization code"):
        pinterest_provider.finish(params, authorization.pending, CALLBACK)
    with pytest.raises(AccessRevoked):
        pinterest_provider.identity(tokens)
    assert not standin.refresh_token_is_live(tokens.refresh_token)


def test_a_code_is_bound_to_its_redirect_uri(pinterest_provider):
    authorization = pinterest_provider.begin(CALLBACK)
    params = query_of(answer_at_pinterest(authorization.url))

    with pytest.raises(AccessRevoked, match="redirect_uri"):
        pinterest_provider.finish(params, authorization.pending, "http://testserver/elsewhere/")


def test_a_code_is_bound_to_its_pkce_verifier(pinterest_provider):
    authorization = pinterest_provider.begin(CALLBACK)
    params = query_of(answer_at_pinterest(authorization.url))

    with pytest.raises(AccessRevoked, match="code_verifier"):
        pinterest_provider.finish(params, {"code_verifier": "x" * 64}, CALLBACK)


def test_a_wrong_client_secret_is_refused_with_pinterests_error(pinterest_provider):
    authorization = pinterest_provider.begin(CALLBACK)
    params = query_of(answer_at_pinterest(authorization.url))
    standin.register_app("sandbox-pinterest-client", "the-secret-pinterest-knows")

    with pytest.raises(AccessRevoked, match=r"Authentication failed\. \(code 2\)"):
        pinterest_provider.finish(params, authorization.pending, CALLBACK)


def test_the_stand_in_accepts_only_basic_client_authentication(pinterest_provider):
    class PostingSecrets(type(pinterest_provider)):
        token_endpoint_auth_method = "client_secret_post"

    authorization = pinterest_provider.begin(CALLBACK)
    params = query_of(answer_at_pinterest(authorization.url))

    with pytest.raises(AccessRevoked, match="HTTP Basic"):
        PostingSecrets().finish(params, authorization.pending, CALLBACK)


def test_the_stand_in_refuses_a_token_request_that_is_not_a_form(pinterest_provider, sandbox):
    response = requests.post(
        f"{sandbox}/pinterest/v5/oauth/token",
        json={"grant_type": "refresh_token", "refresh_token": issued().refresh_token},
        auth=("sandbox-pinterest-client", "sandbox-pinterest-secret"),
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["code"] == 1


def test_a_refresh_asks_for_continuous_refresh_and_the_old_refresh_token_dies(pinterest_provider):
    old = issued()

    new = pinterest_provider.refresh(old)

    assert new.access_token != old.access_token
    assert new.refresh_token not in ("", old.refresh_token)
    assert new.refresh_expires_at > timezone.now() + timedelta(days=364)
    assert standin.refresh_token_is_live(new.refresh_token)
    assert not standin.refresh_token_is_live(old.refresh_token)
    with pytest.raises(AccessRevoked, match="invalid_grant"):
        pinterest_provider.refresh(old)


def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one(pinterest_provider):
    old = issued()
    standin.set_continuous_refresh(False)

    new = pinterest_provider.refresh(old)

    assert new.access_token != old.access_token
    assert new.refresh_token == ""
    assert new.refresh_expires_at is None
    assert standin.refresh_token_is_live(old.refresh_token)


def test_the_new_access_token_expires_as_the_provider_says(pinterest_provider):
    standin.set_lifetimes(access=600)
    tokens = pinterest_provider.refresh(issued())
    now = timezone.now()
    assert now + timedelta(seconds=590) < tokens.expires_at <= now + timedelta(seconds=600)


@pytest.mark.parametrize("refresh_token", ["pinr_never-issued", ""], ids=["unknown", "none at all"])
def test_an_unusable_refresh_token_is_access_revoked(pinterest_provider, refresh_token):
    with pytest.raises(AccessRevoked):
        pinterest_provider.refresh(TokenSet(access_token="a", refresh_token=refresh_token))


def test_an_expired_refresh_token_is_invalid_grant(pinterest_provider):
    standin.set_lifetimes(refresh=0)
    with pytest.raises(AccessRevoked, match="invalid_grant"):
        pinterest_provider.refresh(issued())


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("error", {"status": 500}, "HTTP 500"),
        ("error", {"status": 503}, "HTTP 503"),
        ("rate_limit", {"retry_after": 120}, "HTTP 429"),
        ("garbage", {}, "not a token"),
    ],
)
def test_token_endpoint_outages_are_provider_unavailable(
    pinterest_provider, kind, options, message
):
    tokens = issued()
    standin.inject_fault(kind, "token", **options)

    with pytest.raises(ProviderUnavailable, match=message) as raised:
        pinterest_provider.refresh(tokens)

    assert raised.value.retry_after == options.get("retry_after")
    assert standin.refresh_token_is_live(tokens.refresh_token)


@pytest.mark.parametrize("status", [404, 405, 408, 409, 422])
def test_other_client_errors_on_the_way_are_provider_unavailable_not_a_refusal(
    pinterest_provider, status
):
    tokens = issued()
    standin.inject_fault("error", "token", status=status)

    with pytest.raises(ProviderUnavailable, match=f"HTTP {status}|code 0"):
        pinterest_provider.refresh(tokens)

    assert standin.refresh_token_is_live(tokens.refresh_token)


@pytest.mark.parametrize("status", [400, 401, 403])
def test_a_refusal_status_with_an_error_body_is_access_revoked(pinterest_provider, status):
    standin.inject_fault("error", "token", status=status)
    with pytest.raises(AccessRevoked):
        pinterest_provider.refresh(issued())


def test_a_token_endpoint_that_does_not_answer_in_time_is_provider_unavailable(
    pinterest_provider, settings
):
    settings.CONNECTAPP_HTTP_TIMEOUT = 0.2
    standin.inject_fault("latency", "token", delay=1.0)

    with pytest.raises(ProviderUnavailable, match="did not answer in time"):
        pinterest_provider.refresh(issued())


def test_a_provider_that_cannot_be_reached_is_provider_unavailable(pinterest_provider, settings):
    settings.CONNECTAPP_PINTEREST_API_URL = "http://127.0.0.1:9/v5"
    with pytest.raises(ProviderUnavailable, match="could not be reached"):
        pinterest_provider.refresh(issued())


def test_identity_refused_is_access_revoked_and_outages_are_not(pinterest_provider):
    tokens = issued("someone")
    standin.revoke_user("someone")
    with pytest.raises(AccessRevoked, match="Authentication failed"):
        pinterest_provider.identity(tokens)

    tokens = issued()
    standin.inject_fault("garbage", "user_account")
    with pytest.raises(ProviderUnavailable):
        pinterest_provider.identity(tokens)
    standin.inject_fault("rate_limit", "user_account", retry_after=30)
    with pytest.raises(ProviderUnavailable) as raised:
        pinterest_provider.identity(tokens)
    assert raised.value.retry_after == 30


def test_the_session_authorizes_requests_with_the_bearer_token(pinterest_provider, sandbox):
    tokens = issued("bearer-user")
    with pinterest_provider.session(tokens) as session:
        response = session.get(f"{sandbox}/pinterest/v5/user_account", timeout=5)
    assert response.json()["username"] == "bearer-user"
    assert standin.calls("user_account")[0].user_agent == USER_AGENT


def _answer(status: int, body: bytes, content_type: str = "application/json") -> requests.Response:
    """A token endpoint answer as `requests` hands it over, for shapes the stand-in never sends."""
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers["Content-Type"] = content_type
    return response


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, b'{"error": "invalid_client"}', ProviderUnavailable),
        (400, b'{"error": "unauthorized_client"}', ProviderUnavailable),
        (401, b"<html>no</html>", AccessRevoked),
        (400, b'{"error": "invalid_grant"}', AccessRevoked),
        (403, b'{"code": 3, "message": "Forbidden"}', AccessRevoked),
        (400, b"<html>a gateway</html>", ProviderUnavailable),
        (200, b'{"error": "invalid_grant"}', ProviderUnavailable),
        (200, b'{"access_token": ""}', ProviderUnavailable),
        (200, b'{"access_token": "a", "expires_in": "soon"}', ProviderUnavailable),
        (200, b"[1, 2]", ProviderUnavailable),
    ],
)
def test_what_token_endpoint_answers_mean(pinterest_provider, status, body, error):
    with pytest.raises(error):
        pinterest_provider._check_token_response(_answer(status, body))


def test_a_provider_is_described_by_plain_attributes(sandbox):
    class Example(OAuth2Provider):
        name = "example"
        display_name = "Example"
        authorize_url = "https://id.example.com/authorize?prompt=consent"
        token_url = "https://id.example.com/token"
        client_id = "example-client"
        client_secret = "example-secret"
        default_scopes = ("openid", "profile")
        use_pkce = False

    provider = Example()
    authorization = provider.begin("https://site.example/cb")
    query = query_of(authorization.url)

    assert provider.configured
    assert authorization.url.startswith("https://id.example.com/authorize?")
    assert query["prompt"] == "consent"
    assert query["scope"] == "openid profile"
    assert "code_challenge" not in query
    assert authorization.pending == {}
    assert provider.identity_from({"sub": "42", "preferred_username": "ex"}) == Identity("42", "ex")
    assert provider.identity_from({"id": 7}) == Identity("7", "7")
    with pytest.raises(ProviderUnavailable):
        provider.identity_from({"name": "no id"})


def test_pinterest_is_not_configured_without_its_credentials(settings):
    settings.CONNECTAPP_PINTEREST_CLIENT_SECRET = ""
    assert not registry.get("pinterest").configured
