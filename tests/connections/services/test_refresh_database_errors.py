"""A database error while saving a refreshed token loses nothing.

Pinterest rotates refresh tokens: once it has answered a refresh, the old refresh token is
dead and the new one exists only in our process until the link's row is committed. Here the
real PostgreSQL fails at exactly that moment: a trigger raises on the link's UPDATE, on the
event's INSERT, or at COMMIT (a deferred constraint trigger), or kills the connection. The
failures are counted by a sequence, which no rollback undoes, so "fail N times" is exact.
"""

import pytest
from django.db import DatabaseError, connection

from connectapp.connections import services
from connectapp.connections.models import LinkedAccount
from tests.support.pinterest_support import pinterest_link

pytestmark = pytest.mark.django_db(transaction=True)

Status = LinkedAccount.Status

FAIL = """
CREATE OR REPLACE FUNCTION connectapp_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('connectapp_test_failures') <= {times} THEN
    {action};
  END IF;
  RETURN NEW;
END $$
"""
RAISE = "RAISE EXCEPTION 'injected database failure'"
KILL_CONNECTION = "PERFORM pg_terminate_backend(pg_backend_pid())"
TRIGGERS = {
    "link-update-fails": (
        "CREATE TRIGGER connectapp_test_fail BEFORE UPDATE ON connections_linkedaccount "
        "FOR EACH ROW EXECUTE FUNCTION connectapp_test_fail()"
    ),
    "event-insert-fails": (
        "CREATE TRIGGER connectapp_test_fail BEFORE INSERT ON connections_connectionevent "
        "FOR EACH ROW EXECUTE FUNCTION connectapp_test_fail()"
    ),
    "commit-fails": (
        "CREATE CONSTRAINT TRIGGER connectapp_test_fail AFTER UPDATE ON "
        "connections_linkedaccount DEFERRABLE INITIALLY DEFERRED "
        "FOR EACH ROW EXECUTE FUNCTION connectapp_test_fail()"
    ),
}


@pytest.fixture
def database_fails(postgres, pinterest):
    """`database_fails(where, times, action)` arms a failure; everything is dropped after."""
    tables = ("connections_linkedaccount", "connections_connectionevent")

    def drop() -> None:
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"DROP TRIGGER IF EXISTS connectapp_test_fail ON {table}")
            cursor.execute("DROP FUNCTION IF EXISTS connectapp_test_fail()")
            cursor.execute("DROP SEQUENCE IF EXISTS connectapp_test_failures")

    def arm(where: str, times: int, action: str = RAISE) -> None:
        drop()
        with connection.cursor() as cursor:
            cursor.execute("CREATE SEQUENCE connectapp_test_failures")
            cursor.execute(FAIL.format(times=times, action=action))
            cursor.execute(TRIGGERS[where])

    arm.drop = drop
    yield arm
    connection.close()  # a killed connection must not outlive the test
    drop()


def assert_holds_live_new_tokens(account: LinkedAccount, old_refresh: str, standin) -> None:
    link = LinkedAccount.objects.get(pk=account.pk)
    assert link.status == Status.ACTIVE
    assert link.refresh_token not in ("", old_refresh)
    assert standin.refresh_token_is_live(link.refresh_token)
    assert not standin.refresh_token_is_live(old_refresh)
    assert standin.account_for(link.access_token)["username"] == "pinner"
    events = list(link.events.values_list("kind", "outcome", "detail"))
    assert events == [("refreshed", "ok", services.RESCUED)]


@pytest.mark.parametrize(
    ("where", "action"),
    [
        ("link-update-fails", RAISE),
        ("event-insert-fails", RAISE),
        ("commit-fails", RAISE),
        ("link-update-fails", KILL_CONNECTION),
    ],
    ids=["link-update-fails", "event-insert-fails", "commit-fails", "connection-dies"],
)
def test_a_failed_save_of_rotated_tokens_is_saved_again_at_once(
    database_fails, pinterest, user, where, action
):
    account = pinterest_link(user)
    old_refresh = account.refresh_token
    database_fails(where, times=1, action=action)

    assert services.refresh(account.pk) == "refreshed"

    assert_holds_live_new_tokens(account, old_refresh, pinterest)
    assert len(pinterest.calls("token")) == 1


def test_rotated_tokens_outlive_a_database_outage_and_are_saved_by_the_next_refresh(
    database_fails, pinterest, user
):
    account = pinterest_link(user)
    old_refresh = account.refresh_token
    database_fails("link-update-fails", times=len(services.SAVE_RETRY_DELAYS) + 1)

    with pytest.raises(DatabaseError):
        services.refresh(account.pk)

    unsaved = LinkedAccount.objects.get(pk=account.pk)
    assert (unsaved.refresh_token, unsaved.status) == (old_refresh, Status.ACTIVE)
    assert not pinterest.refresh_token_is_live(old_refresh)  # only the cache holds the new one

    database_fails.drop()
    token = services.get_access_token(unsaved)

    assert_holds_live_new_tokens(account, old_refresh, pinterest)
    assert token == LinkedAccount.objects.get(pk=account.pk).access_token
    assert len(pinterest.calls("token")) == 1  # the dead refresh token was never spent


def test_a_link_reconnected_meanwhile_is_not_overwritten_by_rescued_tokens(
    database_fails, pinterest, user
):
    account = pinterest_link(user)
    database_fails("link-update-fails", times=len(services.SAVE_RETRY_DELAYS) + 1)
    with pytest.raises(DatabaseError):
        services.refresh(account.pk)
    database_fails.drop()
    fresh = pinterest.issue_tokens("pinner")
    LinkedAccount.objects.filter(pk=account.pk).update(
        access_token=fresh["access_token"], refresh_token=fresh["refresh_token"]
    )

    assert services.refresh(account.pk, force=True) == "refreshed"

    link = LinkedAccount.objects.get(pk=account.pk)
    assert pinterest.refresh_token_is_live(link.refresh_token)
    assert link.events.get().detail == ""  # a normal refresh, from the reconnected token
    assert not pinterest.refresh_token_is_live(fresh["refresh_token"])
