from django.db import models

from . import crypto


class EncryptedTextField(models.TextField):
    """A text field whose value is encrypted in the database and plain only in memory.

    The empty string means "no secret" and is stored as it is, so presence can be queried.
    Serialization (`dumpdata`) writes no secret at all: a dump is not a place for tokens.
    """

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return crypto.encrypt(value)

    def value_to_string(self, obj) -> str:
        return ""
