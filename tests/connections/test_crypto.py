"""Tokens at rest: encrypted in the column, readable through the model, rotatable."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from connectapp.connections import crypto
from connectapp.connections.models import LinkedAccount
from connectapp.exceptions import DecryptionError
from tests.factories import DiscogsAccountFactory, LinkedAccountFactory

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def raw_secrets(account_id: int) -> tuple[str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, token_secret, refresh_token FROM connections_linkedaccount "
            "WHERE id = %s",
            [account_id],
        )
        return cursor.fetchone()


def test_round_trip():
    assert crypto.decrypt(crypto.encrypt("a secret value")) == "a secret value"


@pytest.mark.django_db
def test_the_columns_hold_no_plaintext():
    account = DiscogsAccountFactory(
        access_token="plain-access-123", token_secret="plain-secret-456"
    )
    stored = raw_secrets(account.pk)
    assert "plain-access-123" not in stored[0]
    assert "plain-secret-456" not in stored[1]
    assert stored[2] == ""
    reloaded = LinkedAccount.objects.get(pk=account.pk)
    assert (reloaded.access_token, reloaded.token_secret) == (
        "plain-access-123",
        "plain-secret-456",
    )


@pytest.mark.django_db
def test_no_token_is_found_anywhere_in_the_database_dump(capsys):
    LinkedAccountFactory(access_token="findme-access", refresh_token="findme-refresh")
    call_command("dumpdata", "connections", stdout=None)
    dump = capsys.readouterr().out
    assert "connections.linkedaccount" in dump
    assert "findme-" not in dump


@pytest.mark.django_db
def test_an_old_key_still_decrypts_after_a_new_one_is_put_first(settings):
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    account = LinkedAccountFactory(access_token="rotate-me")
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert LinkedAccount.objects.get(pk=account.pk).access_token == "rotate-me"


@pytest.mark.django_db
def test_rotate_keys_re_encrypts_under_the_first_key(settings, capsys):
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    account = LinkedAccountFactory(access_token="rotate-me", refresh_token="and-me")
    untouched = LinkedAccountFactory(access_token="", refresh_token="")
    before = raw_secrets(account.pk)
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    call_command("connections", "rotate-keys")

    assert "re-encrypted the secrets of 1 link(s)" in capsys.readouterr().out
    assert raw_secrets(account.pk) != before
    assert raw_secrets(untouched.pk) == ("", "", "")
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [NEW_KEY]
    reloaded = LinkedAccount.objects.get(pk=account.pk)
    assert (reloaded.access_token, reloaded.refresh_token) == ("rotate-me", "and-me")


@pytest.mark.django_db
def test_a_missing_key_is_a_clear_error_not_garbage(settings):
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    account = LinkedAccountFactory(access_token="locked-away")
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(DecryptionError, match="TOKEN_ENCRYPTION_KEYS") as caught:
        LinkedAccount.objects.get(pk=account.pk)
    assert "locked-away" not in str(caught.value)


def test_fingerprints_tell_secrets_apart_without_showing_them():
    first, second = crypto.fingerprint("token-one"), crypto.fingerprint("token-two")
    assert first != second
    assert "token" not in first
    assert crypto.fingerprint("") == ""
