"""Encryption of tokens at rest with key rotation.

`TOKEN_ENCRYPTION_KEYS` is a list of Fernet keys: the first encrypts, every one decrypts, so a
new key is put first, `connections rotate-keys` re-encrypts, and the old key is then removed.
"""

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from connectapp import conf
from connectapp.exceptions import DecryptionError


@lru_cache(maxsize=4)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _keys() -> MultiFernet:
    return _multifernet(tuple(conf.value("TOKEN_ENCRYPTION_KEYS")))


def encrypt(plaintext: str) -> str:
    return _keys().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _keys().decrypt(ciphertext.encode()).decode()
    except (InvalidToken, ValueError):
        raise DecryptionError(
            "A stored secret cannot be decrypted with any key in TOKEN_ENCRYPTION_KEYS: the key "
            "that encrypted it is missing from the list, or the stored value is damaged."
        ) from None


def digest(secret: str) -> str:
    """Return the SHA-256 of `secret` in hex: what is stored of a secret shown only once (an API
    key, a connect session's token) to find it by, and how a write-ahead entry names the
    refresh token it replaces."""
    return hashlib.sha256(secret.encode()).hexdigest()


def fingerprint(plaintext: str) -> str:
    """A short keyed digest that tells two secrets apart without revealing either."""
    if not plaintext:
        return ""
    digest = hmac.new(settings.SECRET_KEY.encode(), plaintext.encode(), hashlib.sha256)
    return digest.hexdigest()[:12]
