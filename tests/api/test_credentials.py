"""`/connections/{id}/credentials`: a usable credential, refreshed through the services'
single-flight refresh when it is about to expire; 409 when the link needs reconnecting."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectapp import conf
from connectapp.connections import services
from connectapp.connections.models import ApiUsage, LinkedAccount
from connectapp.sandbox.discogs import standin as discogs_standin
from connectapp.sandbox.pinterest import standin as pinterest_standin
from tests.api.conftest import assert_problem
from tests.factories import DiscogsAccountFactory
from tests.support.pinterest_support import pinterest_link
from tests.support.providers_file import toml_table


def test_a_fresh_oauth2_token_is_handed_out_without_asking_the_provider(client_for, user):
    link = pinterest_link(user, expires_in=timedelta(days=10))
    answer = client_for(["credentials:read"]).get(f"/connections/{link.pk}/credentials")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["type"] == "oauth2" and body["token_type"] == "Bearer"
    assert body["access_token"] == link.access_token
    assert body["refresh_token"] is None
    assert pinterest_standin.calls() == []
    assert ApiUsage.objects.get(account=link).count == 1


def test_an_expiring_token_is_refreshed_first_and_the_new_one_works(api, user):
    link = pinterest_link(user, expires_in=timedelta(minutes=2))
    body = api.get(f"/connections/{link.pk}/credentials").json()
    assert body["access_token"] != link.access_token
    assert len(pinterest_standin.calls("token")) == 1
    assert pinterest_standin.account_for(body["access_token"]) is not None
    link.refresh_from_db()
    assert link.access_token == body["access_token"]


def test_force_refresh_renews_a_token_not_yet_due(api, user):
    link = pinterest_link(user, expires_in=timedelta(days=10))
    body = api.get(f"/connections/{link.pk}/credentials?force_refresh=true").json()
    assert body["access_token"] != link.access_token
    assert len(pinterest_standin.calls("token")) == 1


def test_the_refresh_token_needs_its_own_scope(client_for, user):
    link = pinterest_link(user, expires_in=timedelta(days=10))
    plain = client_for(["credentials:read"]).get(f"/connections/{link.pk}/credentials").json()
    assert plain.get("refresh_token") is None
    opted_in = client_for(["credentials:read", "credentials:refresh_token"])
    body = opted_in.get(f"/connections/{link.pk}/credentials").json()
    assert body["refresh_token"] == link.refresh_token


def test_oauth1_answers_the_token_and_secret_never_the_consumer_secret(api, user, settings):
    grant = discogs_standin.issue_access_token(conf.value("DISCOGS_CONSUMER_KEY"), "crate-digger")
    link = DiscogsAccountFactory(user=user, access_token=grant.token, token_secret=grant.secret)
    answer = api.get(f"/connections/{link.pk}/credentials")
    assert answer.json() == {
        "type": "oauth1",
        "oauth_token": grant.token,
        "oauth_token_secret": grant.secret,
    }
    assert conf.value("DISCOGS_CONSUMER_SECRET") not in answer.text


def test_a_link_the_provider_refuses_answers_409_with_the_reason(api, user):
    link = pinterest_link(user, expires_in=timedelta(minutes=1))
    pinterest_standin.revoke_user("pinner")
    body = assert_problem(api.get(f"/connections/{link.pk}/credentials"), 409)
    assert "reconnect" in body["detail"]
    link.refresh_from_db()
    assert link.status == LinkedAccount.Status.NEEDS_RECONNECT
    again = assert_problem(api.get(f"/connections/{link.pk}/credentials"), 409)
    assert again["type"].endswith("needs-reconnect")


def test_a_disconnected_link_answers_409(api, user):
    link = DiscogsAccountFactory(user=user, status=LinkedAccount.Status.REVOKED)
    assert_problem(api.get(f"/connections/{link.pk}/credentials"), 409)


def test_the_hot_path_is_a_few_sql_statements_and_no_provider_call(api, client, user):
    link = pinterest_link(user, expires_in=timedelta(days=10))
    headers = {"Authorization": api.http.headers["Authorization"]}
    client.get(f"/api/v1/connections/{link.pk}/credentials", headers=headers)  # last_used_at
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(f"/api/v1/connections/{link.pk}/credentials", headers=headers)
    assert answer.status_code == 200
    assert len(queries) <= 4, [query["sql"] for query in queries]
    assert pinterest_standin.calls() == []


def test_an_app_level_link_answers_the_sites_own_token(api, receiver, use_providers):
    use_providers(
        toml_table(
            "appco",
            display_name="AppCo",
            grant_type="client_credentials",
            token_url=f"{receiver}/token",
            client_id="appco-client",
            client_secret="appco-secret",
        )
    )
    services.app_access_token("appco")
    link = LinkedAccount.objects.get(provider="appco", user=None)
    body = api.get(f"/connections/{link.pk}/credentials").json()
    assert (body["type"], body["access_token"]) == ("oauth2", "app-level-token")
    assert body["refresh_token"] is None
    listed = api.get("/connections", params={"provider": "appco"}).json()["items"]
    assert [(item["id"], item["user"]) for item in listed] == [(link.pk, None)]
