"""Key rotation: re-encrypt every stored secret under the first key of TOKEN_ENCRYPTION_KEYS."""

from django.db import transaction

from connectapp.exceptions import DecryptionError

from ..models import SECRET_FIELDS, LinkedAccount


def rotate_keys() -> int:
    """Re-encrypt every stored secret under the first key; return how many links changed."""
    changed = 0
    ids = LinkedAccount.objects.values_list("pk", flat=True).order_by("pk")
    for link_id in ids.iterator(chunk_size=500):
        with transaction.atomic():
            rows = LinkedAccount.objects.filter(pk=link_id)
            try:
                raw = rows.locked().values(*SECRET_FIELDS).first()
            except DecryptionError as problem:
                raise DecryptionError(f"link {link_id}: {problem}") from None
            if raw is None:
                continue
            present = [name for name in SECRET_FIELDS if raw[name]]
            if not present:
                continue
            # `values()` already decrypted; saving re-encrypts under the first key.
            link = LinkedAccount(pk=link_id, **raw)
            link.save(update_fields=present)
            changed += 1
    return changed
