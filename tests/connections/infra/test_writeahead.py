"""The rotated-token write-ahead lives on the shared store: another process finds what this
one wrote, a refresh spends two round trips on it, and cleaning up never loses a newer entry."""

from datetime import UTC, datetime

import pytest

from connectapp.connections import services
from connectapp.connections.infra import store, writeahead
from connectapp.connections.models import LinkedAccount
from connectapp.providers.base import TokenSet
from tests.support.pinterest_support import pinterest_link

from .conftest import in_another_process

NEW = TokenSet(
    access_token="new-access",
    refresh_token="new-refresh",
    expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    scopes=("user_accounts:read",),
)
READ_BACK = """
from connectapp.connections.infra import writeahead
from connectapp.connections.models import LinkedAccount
link = LinkedAccount(pk={pk}, status="active", refresh_token={refresh!r})
tokens = writeahead.rescued(link)
print(tokens.refresh_token if tokens else "nothing")
"""


def to_the_store(sent: list[bytes]) -> list[bytes]:
    """Return the round trips to the shared store: a refresh also announces its event through
    Celery's broker, which may be the same Redis, and that is not the write-ahead's."""
    return [payload for payload in sent if store.PREFIX.encode() in payload]


def test_tokens_written_ahead_are_read_by_another_process(shared_store):
    writeahead.keep(4101, "old-refresh", NEW)

    assert in_another_process(READ_BACK.format(pk=4101, refresh="old-refresh")) == "new-refresh"
    assert in_another_process(READ_BACK.format(pk=4101, refresh="other")) == "nothing"


def test_the_entry_is_in_redis_encrypted_with_a_lifetime(shared_store):
    writeahead.keep(4102, "old-refresh", NEW)

    key = writeahead.KEY.format(4102)
    assert b"new-refresh" not in shared_store.get(key)
    assert 0 < shared_store.ttl(key) <= writeahead.TTL.total_seconds()


def test_forgetting_deletes_with_the_next_round_trip(shared_store, sent):
    writeahead.keep(4103, "old-refresh", NEW)
    writeahead.forget(4103)
    assert shared_store.exists(writeahead.KEY.format(4103))  # nothing sent yet for it
    sent.clear()

    store.flush()

    assert len(sent) == 1
    assert not shared_store.exists(writeahead.KEY.format(4103))


def test_forgetting_leaves_a_newer_entry_another_process_wrote(shared_store):
    writeahead.keep(4104, "old-refresh", NEW)
    writeahead.forget(4104)
    in_another_process(
        "from connectapp.connections.infra import writeahead\n"
        "from connectapp.providers.base import TokenSet\n"
        "writeahead.keep(4104, 'new-refresh', TokenSet('newer-access', refresh_token='newer'))"
    )

    store.flush()

    link = LinkedAccount(pk=4104, status="active", refresh_token="new-refresh")
    assert writeahead.rescued(link).refresh_token == "newer"


@pytest.mark.django_db(transaction=True)  # the entry is forgotten when the row commits
def test_a_rotating_refresh_makes_two_round_trips_and_its_cleanup_rides_on_the_next(
    shared_store, sent, pinterest, user
):
    first, second = pinterest_link(user), pinterest_link(user, username="pinner2")

    assert services.refresh(first.pk) == "refreshed"
    rescue_check, write_ahead = to_the_store(sent)
    assert b"GET" in rescue_check and b"SET" in write_ahead
    assert store.deferred_count() == 1  # the delete of the saved entry, not yet sent
    assert shared_store.exists(writeahead.KEY.format(first.pk))

    sent.clear()
    assert services.refresh(second.pk) == "refreshed"

    assert len(to_the_store(sent)) == 2
    assert (
        b"EVALSHA" in to_the_store(sent)[0]
    )  # the first link's delete, sent with the rescue check
    assert not shared_store.exists(writeahead.KEY.format(first.pk))
    assert store.deferred_count() == 1
    assert LinkedAccount.objects.get(pk=first.pk).refresh_token != first.refresh_token
