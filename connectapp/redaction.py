"""Last line of defence against secrets in logs, and the one way a provider's text is kept.

Our own code never logs a secret; this filter also scrubs what libraries and the development
server write (request lines carry `code`, `state`, `oauth_token` and `oauth_verifier`).
"""

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

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


# --- A provider's free text ---------------------------------------------------------------

#: The most of a provider's text kept: enough to say why, never a page of it.
MAX_PROVIDER_TEXT = 500
#: Secrets shorter than this are not looked for in text (a one-letter code is in every word).
MIN_SECRET_LENGTH = 6
REDACTED = "[redacted]"
#: Characters no reason needs: C0 and C1 controls, DEL, and the invisible or reordering ones.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
#: A bare token: 20 or more token characters, with a digit and a letter among them.
_TOKEN_LIKE = re.compile(
    r"(?<![\w.~+/=-])(?=[\w.~+/=-]*\d)(?=[\w.~+/=-]*[^\W\d_])[\w.~+/=-]{20,}(?![\w.~+/=-])"
)


def provider_text(text: object, secrets: Iterable[str] = ()) -> str:
    """Return a provider's free text (an `error_description`, a message) fit to store and show.

    The one way provider text reaches `last_error`, events, pages and logs: `secrets` (what the
    call sent and received: tokens, codes, verifiers, the client secret), as they are and
    URL-encoded, anything named like a secret (`redact`), and bare token-looking strings are
    replaced by "[redacted]"; control and invisible characters go, whitespace is collapsed and
    the text is cut to `MAX_PROVIDER_TEXT` characters.
    """
    text = _CONTROL.sub(" ", str(text))
    known = {secret for secret in secrets if secret and len(secret) >= MIN_SECRET_LENGTH}
    for secret in sorted(known, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, REDACTED)
    text = _TOKEN_LIKE.sub(REDACTED, redact(text))
    text = " ".join(text.split())
    if len(text) > MAX_PROVIDER_TEXT:
        text = text[: MAX_PROVIDER_TEXT - 1] + "…"
    return text


def terminal_text(text: str) -> str:
    """Return `text` with its control characters written as escapes, for a terminal."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode(), text)
