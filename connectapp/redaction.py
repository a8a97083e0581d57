"""Last line of defence against secrets in logs.

Our own code never logs a secret; this filter also scrubs what libraries and the development
server write (request lines carry `code`, `state`, `oauth_token` and `oauth_verifier`).
"""

import logging
import re

SECRET_NAMES = (
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "code",
    "code_verifier",
    "state",
    "oauth_token",
    "oauth_token_secret",
    "oauth_verifier",
    "oauth_signature",
    "denied",
    "password",
)
_NAMES = "|".join(SECRET_NAMES)
_PARAMETER = re.compile(
    rf"(?P<name>\b(?:{_NAMES}))(?P<sep>\"?\s*(?:[=:]|%3D)\s*\"?)(?P<value>(?:(?!%26)[^&\s\",;'])+)",
    re.IGNORECASE,
)
_AUTHORIZATION = re.compile(r"\b(Bearer|Basic|OAuth)\s+[^\s,]+(?:\s*,\s*\w+=\"[^\"]*\")*", re.I)


def redact(text: str) -> str:
    text = _AUTHORIZATION.sub(r"\1 [redacted]", text)
    return _PARAMETER.sub(r"\g<name>\g<sep>[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
