"""Every error type of the product. Messages are safe to show: none ever holds a secret.

Which HTTP status an error answers with is the views' choice, not the error's. The messages a
person reads on a page are translated into the language active where the error is raised.
"""

from enum import StrEnum
from typing import TYPE_CHECKING

from django.utils.translation import gettext

if TYPE_CHECKING:
    from connectapp.providers.base import Provider


class ProviderError(Exception):
    """A provider call failed."""


class ProviderUnavailable(ProviderError):
    """The provider could not answer now (timeout, 5xx, 429, garbage): try again later."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class UnusableAnswer(ProviderUnavailable):
    """The provider answered, but with nothing we can use: too big, a redirect, not JSON,
    or a token answer that fails its checks.

    An outage like any other (work in the background is retried later and the link is left as
    it is; a person sees a page saying to try again). The message says what was wrong with the
    answer, never what was in it.
    """

    def __init__(self, provider: str, what: str):
        super().__init__(f"{provider} answered {what}, which cannot be used")


class AccessRevoked(ProviderError):
    """The provider said no to our credentials: the user has to connect again."""


class UnknownProvider(LookupError):
    """No provider of that name (or of that kind) is configured."""


class FlowError(Exception):
    """A callback that cannot complete a flow. The message is shown to the user."""


class FlowDeclined(FlowError):
    """The user declined at the provider."""


class AccountLinkedElsewhere(FlowError):
    """The account at the provider is already linked to another user here."""

    def __init__(self, provider: "Provider") -> None:
        super().__init__(
            gettext(
                "This %(provider)s account is already connected to another user here. "
                "Disconnect it there first, or connect a different %(provider)s account."
            )
            % {"provider": provider.display_name}
        )


class ProviderNotConfigured(FlowError):
    """The site has no credentials for this provider."""

    def __init__(self, provider: "Provider") -> None:
        super().__init__(
            gettext("%(provider)s is not configured on this site.")
            % {"provider": provider.display_name}
        )


class AppCredentialsRefused(FlowError):
    """The provider refused this site's own credentials: the operator has to fix them."""

    def __init__(self, display_name: str) -> None:
        super().__init__(
            gettext(
                "%(provider)s refused this site's application credentials, so no connection can "
                "be started. The site's %(provider)s configuration needs fixing by its operator."
            )
            % {"provider": display_name}
        )


class AuthorizationRefused(FlowError):
    """The provider would not exchange this callback's request token and verifier."""

    def __init__(self, display_name: str) -> None:
        super().__init__(
            gettext(
                "%(provider)s did not accept this authorization: it may have been used already "
                "or tampered with. Please start again."
            )
            % {"provider": display_name}
        )


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


class ProxyRefused(Exception):
    """The call cannot be forwarded; `reason` says why (the API chooses the status)."""

    class Reason(StrEnum):
        NO_API_BASE = "no_api_base"  # the provider declares no API base URL
        BAD_PATH = "bad_path"  # the path would leave the API base
        METHOD_NOT_FORWARDED = "method_not_forwarded"
        NEEDS_RECONNECT = "needs_reconnect"  # the provider refused the link's tokens
        UNAVAILABLE = "unavailable"  # no working credential now: try again later
        UNREACHABLE = "unreachable"  # the forwarded request got no usable answer
        RATE_LIMITED = "rate_limited"  # the provider's rate limit, past the deadline
        TIMED_OUT = "timed_out"  # the deadline passed before an answer

    def __init__(self, message: str, reason: Reason, retry_after: float | None = None):
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class InvalidKeyRequest(ValueError):
    """The scopes or providers asked for a key are not ones this site knows."""


class InvalidConnectSession(ValueError):
    """The backend's request cannot make a session (unknown provider, return URL not allowed)."""


class SessionRefused(Exception):
    """The opened URL is unknown, used or expired (`reason` says which); the message is shown
    to the person."""

    class Reason(StrEnum):
        UNKNOWN = "unknown"
        USED = "used"
        EXPIRED = "expired"

    def __init__(self, message: str, reason: Reason):
        super().__init__(message)
        self.reason = reason


class TooManyStarts(Exception):
    """The user started too many flows in the current window."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many connection attempts; try again in {retry_after} s")
        self.retry_after = retry_after


class InvalidEndpoint(ValueError):
    """A webhook URL or event list that connectapp will not use."""


class UnsafeDestination(ValueError):
    """The endpoint's address is one connectapp refuses to send to (SSRF guard)."""
