"""`manage.py connections …` as an operator runs it."""

import json

import pytest
from django.core.management import CommandError, call_command

from connectapp.connections.models import LinkedAccount
from tests.factories import DiscogsAccountFactory, LinkedAccountFactory

pytestmark = pytest.mark.django_db

CONTRACT_FIELDS = {
    "id",
    "user",
    "provider",
    "external_id",
    "username",
    "status",
    "expires_at",
    "last_refreshed_at",
    "last_verified_at",
}


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("connections", *args, stdout=out)
    return out.getvalue()


def test_list_json_has_the_contract_fields_and_no_secret():
    LinkedAccountFactory(access_token="sekrit-access", refresh_token="sekrit-refresh")
    DiscogsAccountFactory(access_token="sekrit-a2", token_secret="sekrit-secret")
    output = run("list", "--json")
    rows = json.loads(output)
    assert len(rows) == 2
    assert all(set(row) >= CONTRACT_FIELDS for row in rows)
    assert "sekrit" not in output


def test_list_filters_by_provider_and_status():
    LinkedAccountFactory(username="pin-ok")
    LinkedAccountFactory(username="pin-broken", status=LinkedAccount.Status.NEEDS_RECONNECT)
    DiscogsAccountFactory(username="disc-ok")
    rows = json.loads(run("list", "--json", "--provider", "pinterest", "--status", "active"))
    assert [row["username"] for row in rows] == ["pin-ok"]


def test_list_as_a_table_counts_links():
    LinkedAccountFactory(username="pin-table", access_token="table-secret")
    output = run("list")
    assert "pin-table" in output
    assert "1 link(s)" in output
    assert "table-secret" not in output


@pytest.mark.parametrize(
    "args",
    [("refresh",), ("refresh", "--due", "--all"), ("verify",), ("refresh", "999999")],
)
def test_bad_arguments_are_refused(args):
    with pytest.raises(CommandError):
        run(*args)


@pytest.mark.parametrize("action", ["refresh", "verify"])
def test_a_link_of_a_provider_no_longer_configured_is_reported_on_its_line(action):
    """A provider removed from CONNECTAPP_PROVIDERS_FILE leaves its links behind."""
    gone = LinkedAccountFactory(provider="retired-provider")
    disconnected = LinkedAccountFactory(status=LinkedAccount.Status.REVOKED)

    lines = run(action, str(gone.pk), str(disconnected.pk)).splitlines()

    assert lines == [
        f"link {gone.pk}: not attempted: no provider named retired-provider is configured",
        f"link {disconnected.pk}: skipped",
    ]
