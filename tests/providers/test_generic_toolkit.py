"""Providers from configuration against a real OAuth 2.0 server that is not ours.

django-oauth-toolkit runs in its own process (`tests/oauth_server`), requires PKCE, rotates
refresh tokens and revokes the old ones, accepts both client authentication methods and
revokes tokens (RFC 7009). The providers are described only in a TOML file, so a passing test
here means the configuration alone is enough to talk to a standard server.
"""

import json
import logging
import threading
from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from connectapp.connections import selectors, services
from connectapp.connections.models import ConnectionEvent, LinkedAccount
from connectapp.exceptions import AccessRevoked, FlowError, ProviderError, ProviderUnavailable
from connectapp.providers import registry
from connectapp.providers.base import TokenSet
from connectapp.providers.oauth2 import OAuth2Provider
from tests.oauth_server import harness
from tests.support.flows import path_of, query_of
from tests.support.providers_file import toml_table

WEB_SECRET = "web-secret-known-to-the-toolkit"
APP_SECRET = "app-secret-known-to-the-toolkit"
CALLBACK = "http://testserver/connections/toolkit/callback/"
#: Per-user providers of the same server: name, client authentication, revocation.
PER_USER = (
    ("toolkit", "client_secret_post", "revoke"),
    ("toolkit-basic", "client_secret_basic", "revoke"),
    ("toolkit-keep", "client_secret_post", "none"),
    ("toolkit-down", "client_secret_basic", "down"),
)
REVOCATION = "/o/revoke_token/"
Kind = ConnectionEvent.Kind
Status = LinkedAccount.Status


@pytest.fixture(scope="module")
def toolkit():
    applications = [
        {
            "name": "connectapp for users",
            "client_id": "web-client",
            "client_secret": WEB_SECRET,
            "authorization_grant_type": "authorization-code",
            "redirect_uris": " ".join(
                f"http://testserver/connections/{name}/callback/" for name, _, _ in PER_USER
            ),
        },
        {
            "name": "connectapp itself",
            "client_id": "app-client",
            "client_secret": APP_SECRET,
            "authorization_grant_type": "client-credentials",
            "redirect_uris": "",
        },
    ]
    with harness.running(["dora", "eve"], applications) as server:
        yield server


@pytest.fixture
def providers(toolkit, closed_port, use_providers, monkeypatch):
    monkeypatch.setenv("TOOLKIT_WEB_SECRET", WEB_SECRET)
    monkeypatch.setenv("TOOLKIT_APP_SECRET", APP_SECRET)
    token_url = f"{toolkit.url}/o/token/"
    app_secret = {"client_secret_env": "TOOLKIT_APP_SECRET"}
    app_level = "\n".join(
        toml_table(
            name,
            display_name=f"Toolkit API ({auth})",
            grant_type="client_credentials",
            token_url=token_url,
            client_id="app-client",
            **secret,
            client_auth=auth,
            scopes=["api"],
        )
        for name, auth, secret in (
            ("toolkit-app", "client_secret_basic", app_secret),
            ("toolkit-app-post", "client_secret_post", app_secret),
            ("toolkit-wrong", "client_secret_basic", {"client_secret": "not-the-secret"}),
        )
    )
    revocation = {
        "revoke": {"revocation_url": f"{toolkit.url}{REVOCATION}"},
        "none": {},
        "down": {"revocation_url": f"http://127.0.0.1:{closed_port}{REVOCATION}"},
    }
    per_user = "\n".join(
        toml_table(
            name,
            display_name="Toolkit",
            authorize_url=f"{toolkit.url}/o/authorize/",
            token_url=token_url,
            **revocation[revokes],
            userinfo_url=f"{toolkit.url}/api/me/",
            id_path="data.user.id",
            username_path="data.user.login",
            scopes=["profile", "boards"],
            client_id="web-client",
            client_secret_env="TOOLKIT_WEB_SECRET",
            client_auth=auth,
        )
        for name, auth, revokes in PER_USER
    )
    return use_providers(per_user, app_level)


def connect(
    client, toolkit, username: str = "dora", *, allow: bool = True, provider: str = "toolkit"
):
    """Press Connect, decide at the toolkit, and follow its redirect back to our callback."""
    started = client.post(f"/connections/{provider}/connect/")
    assert started.status_code == 302, started.content.decode()
    return client.get(path_of(toolkit.decide(started["Location"], username, allow=allow)))


def introspect(toolkit, token: str) -> dict:
    """What the toolkit itself says about a token."""
    answer = requests.post(
        f"{toolkit.url}/o/introspect/",
        data={"token": token},
        auth=("app-client", APP_SECRET),
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()


def refresh_grant(toolkit, refresh_token: str) -> requests.Response:
    """A refresh grant sent to the toolkit directly, as any client of it would."""
    return requests.post(
        f"{toolkit.url}/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=("web-client", WEB_SECRET),
        timeout=10,
    )


def profile(toolkit, access_token: str) -> requests.Response:
    """The toolkit's protected resource, asked with the Bearer token."""
    return requests.get(
        f"{toolkit.url}/api/me/",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )


def kinds(account: LinkedAccount) -> list[str]:
    return list(account.events.order_by("pk").values_list("kind", flat=True))


# --- A user's connection: authorization code with PKCE ------------------------------------


def test_a_user_connects_through_the_pages_with_pkce(signed_in, user, toolkit, providers):
    started = signed_in.post("/connections/toolkit/connect/")
    query = query_of(started["Location"])
    assert started["Location"].startswith(f"{toolkit.url}/o/authorize/?")
    assert query["code_challenge_method"] == "S256"
    assert query["scope"] == "profile boards"
    assert query["client_id"] == "web-client"

    answer = signed_in.get(path_of(toolkit.decide(started["Location"], "dora")))

    assert answer.status_code == 302
    account = LinkedAccount.objects.get(user=user, provider="toolkit")
    assert account.username == "dora" and account.external_id.isdigit()
    assert account.status == Status.ACTIVE
    assert account.refresh_token and account.access_token
    now = timezone.now()
    assert now + timedelta(minutes=59) < account.expires_at <= now + timedelta(hours=1)
    assert kinds(account) == [Kind.CONNECTED]
    assert {card.provider.name for card in selectors.cards_for(user)} >= {"toolkit"}


def test_app_level_providers_are_not_offered_to_users(signed_in, user, providers):
    names = [card.provider.name for card in selectors.cards_for(user)]
    assert "toolkit" in names and "toolkit-app" not in names

    answer = signed_in.post("/connections/toolkit-app/connect/")

    assert answer.status_code == 400
    assert b"connected by this site itself" in answer.content


def test_declining_at_the_server_leaves_no_link(signed_in, toolkit, providers):
    answer = connect(signed_in, toolkit, allow=False)

    assert answer.status_code == 302
    assert not LinkedAccount.objects.exists()


def test_a_code_is_refused_without_its_pkce_verifier(toolkit, providers):
    provider = registry.get("toolkit")
    authorization = provider.begin(CALLBACK)
    params = query_of(toolkit.decide(authorization.url, "dora"))

    with pytest.raises(AccessRevoked, match="invalid_grant"):
        provider.finish(params, {"code_verifier": "x" * 64}, CALLBACK)


def test_a_refresh_rotates_the_refresh_token_and_the_old_one_dies(
    signed_in, user, toolkit, providers
):
    connect(signed_in, toolkit)
    account = LinkedAccount.objects.get(user=user)
    old = account.token_set()

    assert services.refresh(account.pk, force=True) == "refreshed"

    account.refresh_from_db()
    assert account.refresh_token not in ("", old.refresh_token)
    assert account.access_token != old.access_token
    assert introspect(toolkit, account.access_token)["active"] is True
    assert introspect(toolkit, old.access_token)["active"] is False
    with pytest.raises(AccessRevoked, match="invalid_grant"):
        registry.get("toolkit").refresh(old)
    assert services.refresh(account.pk, force=True) == "refreshed"


def test_a_refresh_token_used_elsewhere_marks_the_link_needs_reconnect(
    signed_in, user, toolkit, providers
):
    connect(signed_in, toolkit)
    account = LinkedAccount.objects.get(user=user)
    registry.get("toolkit").refresh(account.token_set())

    assert services.refresh(account.pk, force=True) == "needs_reconnect"

    account.refresh_from_db()
    assert account.status == Status.NEEDS_RECONNECT
    assert "invalid_grant" in account.last_error
    assert kinds(account) == [Kind.CONNECTED, Kind.NEEDS_RECONNECT]


def test_verify_and_on_demand_refresh_go_through_the_same_services(
    signed_in, user, toolkit, providers
):
    connect(signed_in, toolkit, "eve")
    account = LinkedAccount.objects.get(user=user)
    assert services.verify(account.pk, actor="admin:root") == "verified"
    LinkedAccount.objects.filter(pk=account.pk).update(
        expires_at=timezone.now() + timedelta(minutes=1)
    )
    old = account.access_token

    token = services.get_access_token(account)

    assert token != old and introspect(toolkit, token)["active"] is True
    assert kinds(account) == [Kind.CONNECTED, Kind.VERIFIED, Kind.REFRESHED]


# --- The site's own connection: client credentials ----------------------------------------


@pytest.mark.parametrize("name", ["toolkit-app", "toolkit-app-post"])
def test_an_app_level_token_is_obtained_on_first_use_and_cached(db, toolkit, providers, name):
    token = services.app_access_token(name)

    assert services.app_access_token(name) == token
    link = LinkedAccount.objects.get(provider=name)
    assert link.user is None and link.status == Status.ACTIVE
    assert link.external_id == "app-client"
    assert kinds(link) == [Kind.CONNECTED]
    described = introspect(toolkit, token)
    assert described["active"] is True and described["client_id"] == "app-client"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token FROM connections_linkedaccount WHERE id = %s", [link.pk]
        )
        (stored,) = cursor.fetchone()
    assert token not in stored


def test_an_app_level_token_about_to_expire_is_replaced(db, toolkit, providers):
    first = services.app_access_token("toolkit-app")
    LinkedAccount.objects.filter(provider="toolkit-app").update(
        expires_at=timezone.now() + timedelta(minutes=1)
    )

    second = services.app_access_token("toolkit-app")

    assert second != first
    assert introspect(toolkit, second)["active"] is True
    assert kinds(LinkedAccount.objects.get(provider="toolkit-app")) == [
        Kind.CONNECTED,
        Kind.REFRESHED,
    ]


def test_concurrent_callers_cause_one_token_request(transactional_db, postgres, toolkit, providers):
    services.app_access_token("toolkit-app")
    LinkedAccount.objects.filter(provider="toolkit-app").update(
        expires_at=timezone.now() + timedelta(minutes=1)
    )
    start = threading.Barrier(6)
    tokens: list[str] = []

    def caller() -> None:
        try:
            start.wait()
            tokens.append(services.app_access_token("toolkit-app"))
        finally:
            connection.close()

    threads = [threading.Thread(target=caller) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(tokens) == 6 and len(set(tokens)) == 1
    link = LinkedAccount.objects.get(provider="toolkit-app")
    assert kinds(link) == [Kind.CONNECTED, Kind.REFRESHED]


def test_wrong_app_credentials_are_a_readable_error_and_nothing_is_cached(db, toolkit, providers):
    with pytest.raises(ProviderUnavailable, match=r"app credentials \(invalid_client\)"):
        services.app_access_token("toolkit-wrong")

    link = LinkedAccount.objects.get(provider="toolkit-wrong")
    assert link.status == Status.ERROR and link.access_token == ""
    assert "invalid_client" in link.last_error
    (event,) = link.events.all()
    assert event.outcome == ConnectionEvent.Outcome.TRANSIENT
    assert "not-the-secret" not in event.detail


def test_admin_refresh_and_verify_of_an_app_link_use_client_credentials(db, toolkit, providers):
    first = services.app_access_token("toolkit-app")
    link = LinkedAccount.objects.get(provider="toolkit-app")

    assert services.refresh(link.pk, actor="admin:root", force=True) == "refreshed"
    assert services.verify(link.pk, actor="admin:root") == "verified"

    link.refresh_from_db()
    assert link.access_token != first and link.refresh_token == ""
    assert kinds(link) == [Kind.CONNECTED, Kind.REFRESHED, Kind.REFRESHED]


def test_a_per_user_name_is_not_an_app_level_provider(db, providers):
    with pytest.raises(LookupError, match="not an app-level provider"):
        services.app_access_token("toolkit")


def test_the_session_for_an_app_level_provider_carries_its_token(db, toolkit, providers):
    with services.app_session("toolkit-app") as session:
        answer = session.get(f"{toolkit.url}/api/me/", timeout=10)
    with requests.get(f"{toolkit.url}/api/me/", timeout=10) as anonymous:
        assert anonymous.status_code == 403

    assert answer.status_code == 200
    assert answer.json() == {"data": {"user": None}}


def test_the_old_string_form_still_answers_the_app_token_with_a_deprecation_warning(
    db, toolkit, providers
):
    with pytest.warns(DeprecationWarning, match=r"call app_access_token\(provider_name\)"):
        token = services.get_access_token("toolkit-app")
    with pytest.warns(DeprecationWarning, match=r"call app_session\(provider_name\)"):
        session = services.authorized_session("toolkit-app")
    with session:
        answer = session.get(f"{toolkit.url}/api/me/", timeout=10)

    assert token == services.app_access_token("toolkit-app")
    assert answer.status_code == 200
    assert answer.json() == {"data": {"user": None}}


def test_app_links_are_listed_with_no_user_and_shown_in_admin(
    admin_client, toolkit, providers, capsys
):
    services.app_access_token("toolkit-app")
    link = LinkedAccount.objects.get(provider="toolkit-app")

    call_command("connections", "list", "--json")
    (row,) = json.loads(capsys.readouterr().out)

    assert (row["user"], row["provider"], row["status"]) == (None, "toolkit-app", "active")
    listing = admin_client.get("/admin/connections/linkedaccount/?owner=app")
    assert listing.status_code == 200 and b"toolkit-app" in listing.content
    detail = admin_client.get(f"/admin/connections/linkedaccount/{link.pk}/change/")
    assert b"Connected" in detail.content
    assert services.app_access_token("toolkit-app").encode() not in detail.content


def test_tokens_are_not_handed_to_the_per_user_refresh_grant(db, toolkit, providers):
    """An app link's "refresh" is a new client-credentials grant: it has no refresh token."""
    provider = registry.get("toolkit-app")
    tokens = provider.refresh(TokenSet(access_token="", refresh_token="never-sent"))
    assert tokens.refresh_token == "" and introspect(toolkit, tokens.access_token)["active"]
    assert "toolkit-app" not in [p.name for p in registry.user_providers()]
    with pytest.raises(FlowError):
        provider.begin(CALLBACK)


# --- Disconnecting: forgotten here, and revoked at the server where it has revocation -------


def assert_dead_at_the_toolkit(toolkit, tokens: TokenSet) -> None:
    refused = refresh_grant(toolkit, tokens.refresh_token)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert introspect(toolkit, tokens.access_token)["active"] is False
    assert profile(toolkit, tokens.access_token).status_code == 403


def assert_forgotten_here(account: LinkedAccount) -> None:
    account.refresh_from_db()
    assert account.status == Status.REVOKED
    assert (account.access_token, account.refresh_token) == ("", "")
    assert kinds(account) == [Kind.CONNECTED, Kind.DISCONNECTED]


@pytest.mark.parametrize(
    ("name", "authorization"),
    [
        pytest.param("toolkit", "-", id="client_secret_post"),
        pytest.param("toolkit-basic", "Basic", id="client_secret_basic"),
    ],
)
def test_disconnecting_revokes_the_grant_at_the_server(
    signed_in, user, toolkit, providers, name, authorization
):
    """The client authenticates as configured: in the form body (no header), or HTTP Basic."""
    connect(signed_in, toolkit, provider=name)
    account = LinkedAccount.objects.get(user=user, provider=name)
    tokens = account.token_set()
    assert introspect(toolkit, tokens.access_token)["active"] is True
    assert profile(toolkit, tokens.access_token).status_code == 200
    revocations = toolkit.requests_to(REVOCATION)

    assert services.disconnect(account.pk, actor="admin:root") is True

    assert toolkit.requests_to(REVOCATION) == [*revocations, authorization]
    assert_forgotten_here(account)
    assert_dead_at_the_toolkit(toolkit, tokens)
    assert account.events.get(kind=Kind.DISCONNECTED).detail == "revoked at the provider"


def test_disconnecting_on_the_page_revokes_the_grant_at_the_server(
    signed_in, user, toolkit, providers
):
    connect(signed_in, toolkit)
    account = LinkedAccount.objects.get(user=user)
    tokens = account.token_set()
    page = signed_in.get(f"/connections/{account.pk}/disconnect/")
    assert b"also asks Toolkit to revoke" in page.content

    answer = signed_in.post(f"/connections/{account.pk}/disconnect/")

    assert answer.status_code == 302
    assert_forgotten_here(account)
    assert_dead_at_the_toolkit(toolkit, tokens)


def test_a_provider_without_a_revocation_url_makes_no_revocation_request(
    signed_in, user, toolkit, providers
):
    connect(signed_in, toolkit, provider="toolkit-keep")
    account = LinkedAccount.objects.get(user=user)
    tokens = account.token_set()
    page = signed_in.get(f"/connections/{account.pk}/disconnect/")
    assert b"remove this site" in page.content
    revocations = toolkit.requests_to(REVOCATION)

    signed_in.post(f"/connections/{account.pk}/disconnect/")

    assert toolkit.requests_to(REVOCATION) == revocations
    assert_forgotten_here(account)
    assert "offers no revocation" in account.events.get(kind=Kind.DISCONNECTED).detail
    assert introspect(toolkit, tokens.access_token)["active"] is True
    assert refresh_grant(toolkit, tokens.refresh_token).status_code == 200


def test_a_revocation_endpoint_that_is_down_still_disconnects_here(
    signed_in, user, toolkit, providers, caplog
):
    caplog.set_level(logging.DEBUG)
    connect(signed_in, toolkit, provider="toolkit-down")
    account = LinkedAccount.objects.get(user=user)
    tokens = account.token_set()

    answer = signed_in.post(f"/connections/{account.pk}/disconnect/")

    assert answer.status_code == 302
    assert_forgotten_here(account)
    (warning,) = [record for record in caplog.records if "revocation" in record.getMessage()]
    assert warning.levelno == logging.WARNING
    assert "Toolkit could not be reached" in warning.getMessage()
    detail = account.events.get(kind=Kind.DISCONNECTED).detail
    assert detail.startswith("revocation at the provider failed: Toolkit could not be reached")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (tokens.access_token, tokens.refresh_token, WEB_SECRET):
        assert secret not in logged


def test_a_revocation_with_wrong_app_credentials_is_refused_and_says_so_without_secrets(
    signed_in, user, toolkit, providers
):
    connect(signed_in, toolkit)
    tokens = LinkedAccount.objects.get(user=user).token_set()
    configured = registry.get("toolkit")
    impostor = OAuth2Provider(
        name="toolkit",
        display_name="Toolkit",
        revocation_url=configured.revocation_url,
        client_id="web-client",
        client_secret="not-the-secret",
        token_endpoint_auth_method="client_secret_basic",
    )

    with pytest.raises(
        ProviderError, match=r"did not revoke .*HTTP 401: invalid_client"
    ) as refused:
        impostor.revoke(tokens)

    assert tokens.refresh_token not in str(refused.value)
    assert "not-the-secret" not in str(refused.value)
    assert introspect(toolkit, tokens.access_token)["active"] is True


def test_without_a_refresh_token_the_access_token_is_revoked(signed_in, user, toolkit, providers):
    connect(signed_in, toolkit)
    tokens = LinkedAccount.objects.get(user=user).token_set()

    registry.get("toolkit").revoke(TokenSet(access_token=tokens.access_token))

    assert introspect(toolkit, tokens.access_token)["active"] is False
    assert profile(toolkit, tokens.access_token).status_code == 403
