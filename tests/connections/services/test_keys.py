"""Rotating TOKEN_ENCRYPTION_KEYS end to end, the way the README tells an operator to.

Links are made through the real flows under the old key; the new key goes first, `manage.py
connections rotate-keys` runs, the old key is removed, and every link still signs, refreshes
and verifies against the stand-ins. A key that is wrong or missing is named, never guessed at.
"""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from connectapp.connections import services
from connectapp.connections.models import LinkedAccount
from connectapp.exceptions import DecryptionError
from tests.factories import DiscogsAccountFactory
from tests.support import discogs_support, pinterest_support
from tests.support.flows import discogs_link, path_of

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
OTHER_KEY = Fernet.generate_key().decode()


def stored_columns() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, token_secret, refresh_token FROM connections_linkedaccount "
            "ORDER BY id"
        )
        return cursor.fetchall()


def connect_both(client) -> dict[str, LinkedAccount]:
    assert client.get(discogs_support.approve(client)).status_code == 302
    assert client.get(path_of(pinterest_support.approve(client))).status_code
    return {link.provider: link for link in LinkedAccount.objects.all()}


def test_a_new_key_first_then_rotate_then_drop_the_old_one(discogs, pinterest, signed_in, settings):
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    links = connect_both(signed_in)
    pending = pinterest_support.approve(signed_in)  # a flow in progress during the rotation
    before = stored_columns()

    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    out = io.StringIO()
    call_command("connections", "rotate-keys", stdout=out)
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [NEW_KEY]

    assert out.getvalue().strip() == "re-encrypted the secrets of 2 link(s) under the first key"
    after = stored_columns()
    assert all(old != new for old, new in zip(before, after, strict=True))
    assert services.verify(links["discogs"].pk) == "verified"
    assert services.refresh(links["pinterest"].pk, force=True) == "refreshed"
    pinterest_link = LinkedAccount.objects.get(pk=links["pinterest"].pk)
    token = services.get_access_token(pinterest_link)
    assert pinterest.account_for(token)["username"] == "pinner"
    discogs_session = services.authorized_session(LinkedAccount.objects.get(provider="discogs"))
    assert discogs_session.get("/oauth/identity", timeout=5).status_code == 200
    assert signed_in.get("/connections/").status_code == 200

    stale = signed_in.get(path_of(pending))
    assert stale.status_code == 400
    assert "can no longer be read" in stale.content.decode()


def test_a_missing_key_is_named_by_every_entry_point(discogs, user, settings):
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    link = discogs_link(user)
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [OTHER_KEY]

    with pytest.raises(DecryptionError, match="TOKEN_ENCRYPTION_KEYS"):
        services.verify(link.pk)
    with pytest.raises(CommandError, match=f"link {link.pk}: .*TOKEN_ENCRYPTION_KEYS") as caught:
        call_command("connections", "rotate-keys", stdout=io.StringIO())
    assert link.access_token not in str(caught.value)
    for action in ("verify", "refresh"):
        out = io.StringIO()
        call_command("connections", action, str(link.pk), stdout=out)
        assert out.getvalue().startswith(f"link {link.pk}: not attempted: A stored secret cannot")
        assert "TOKEN_ENCRYPTION_KEYS" in out.getvalue()
        assert link.access_token not in out.getvalue()
    assert discogs.calls() == []


def test_a_damaged_stored_value_is_an_error_not_garbage(user, settings):
    link = DiscogsAccountFactory(user=user)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE connections_linkedaccount SET access_token = %s WHERE id = %s",
            ["gAAAAAB-not-a-real-ciphertext", link.pk],
        )

    with pytest.raises(DecryptionError, match="damaged"):
        LinkedAccount.objects.get(pk=link.pk)


def test_reconnecting_mends_a_link_whose_secrets_no_key_opens(discogs, signed_in, settings):
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    assert signed_in.get(discogs_support.approve(signed_in)).status_code == 302
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [OTHER_KEY]

    page = signed_in.get(discogs_support.approve(signed_in), follow=True).content.decode()

    assert "Connected Discogs as crate-digger." in page
    link = LinkedAccount.objects.get()
    assert link.status == LinkedAccount.Status.ACTIVE
    assert discogs.grant(link.access_token).username == "crate-digger"
    assert [event.kind for event in link.events.order_by("pk")] == ["connected", "reconnected"]
