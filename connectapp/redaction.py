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
    # Bare names, as template contexts and reprs in a DEBUG traceback spell them.
    "token",
    "secret",
    "verifier",
)
_NAMES = "|".join(SECRET_NAMES)
_PARAMETER = re.compile(
    rf"(?P<name>\b(?:{_NAMES}))(?P<sep>[\"']?\s*(?:[=:]|%3D)\s*[\"']?)(?P<value>(?:(?!%26)[^&\s\",;'])+)",
    re.IGNORECASE,
)
_AUTHORIZATION = re.compile(r"\b(Bearer|Basic|OAuth)\s+[^\s,]+(?:\s*,\s*\w+=\"[^\"]*\")*", re.I)


def redact(text: str) -> str:
    text = _AUTHORIZATION.sub(r"\1 [redacted]", text)
    return _PARAMETER.sub(r"\g<name>\g<sep>[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    """Scrubs the message, and the traceback and stack that formatting would add to it (a
    traceback can quote a request's query string or a template's whole context)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
