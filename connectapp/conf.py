"""connectapp's settings as a site sets them: one prefix, Python values, documented defaults.

A site sets `CONNECTAPP_<NAME>` in its Django settings (`CONNECTAPP_DISCOGS_CONSUMER_KEY`,
`CONNECTAPP_TOKEN_ENCRYPTION_KEYS`, `CONNECTAPP_REFRESH_WINDOW_SECONDS`, …): a list where the
environment variable holds a comma-separated list, a bool, an int of seconds. The repository's
standalone project (`standalone/settings.py`) is such a site, whose values come from the
environment.

Every module of the app reads its settings through `value(name)`, at the moment it needs them,
so `override_settings` and pytest-django's `settings` fixture take effect at once.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings

PREFIX = "CONNECTAPP_"


def _seconds(value: Any) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


def _days(value: Any) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(days=value)


def _sandboxed(stand_in: Callable[[Callable[[str], Any]], Any], real: Any) -> Callable:
    """Return a default that points at the built-in stand-ins when `SANDBOX` is on."""
    return lambda get: stand_in(get) if get("SANDBOX") else real


@dataclass(frozen=True)
class Setting:
    """One setting: `name` as a site sets it (after the prefix), its default (or a function of
    `value` that computes it), and how a site's value becomes the one call sites use."""

    name: str
    default: Any
    convert: Callable[[Any], Any] = lambda value: value

    @property
    def prefixed(self) -> str:
        """Return the name a host site sets."""
        return PREFIX + self.name


def _sandbox_url(get: Callable[[str], Any]) -> str:
    return get("SANDBOX_URL").rstrip("/")


def _provider_setting(name: str, in_sandbox: str, real: str) -> Setting:
    """Return a provider setting, named alike for hosts and call sites, whose default is
    `in_sandbox` (`{sandbox}` standing for the stand-ins' URL) when `SANDBOX` is on, else
    `real`."""
    stand_in = lambda get: in_sandbox.format(sandbox=_sandbox_url(get))  # noqa: E731
    return Setting(name, _sandboxed(stand_in, real))


SETTINGS = {
    setting.name: setting
    for setting in (
        Setting("TOKEN_ENCRYPTION_KEYS", [], list),
        Setting("SANDBOX", False, bool),
        Setting("SANDBOX_URL", "http://127.0.0.1:8000/sandbox"),
        Setting("PUBLIC_URL", ""),
        Setting("PROVIDERS_FILE", "", str),
        Setting("PROVIDERS", {}),
        Setting("USER_AGENT", "connectapp/1.0 +https://localhost"),
        Setting("HTTP_TIMEOUT", 10.0, float),
        Setting("FLOW_TTL_SECONDS", timedelta(minutes=10), _seconds),
        Setting("CONNECT_RATE_LIMIT", "10/60"),
        Setting("RATE_LIMITS", {"discogs": "60/m"}, dict),
        Setting("REDIS_URL", ""),
        Setting("PROVIDER_QUEUE", "providers"),
        Setting("TASK_SOFT_TIME_LIMIT_SECONDS", 60, int),
        Setting(
            "TASK_TIME_LIMIT_SECONDS",
            lambda get: get("TASK_SOFT_TIME_LIMIT_SECONDS") + 30,
            int,
        ),
        Setting("SWEEP_TIME_LIMIT_SECONDS", 15 * 60, int),
        Setting("SWEEP_BATCH_SIZE", 5000, int),
        Setting("VERIFY_INTERVAL_SECONDS", timedelta(hours=6), _seconds),
        Setting("REFRESH_SWEEP_SECONDS", timedelta(minutes=1), _seconds),
        Setting("REFRESH_WINDOW_SECONDS", timedelta(days=3), _seconds),
        Setting("REFRESH_LEASE_SECONDS", timedelta(hours=3), _seconds),
        Setting("EVENT_RETENTION_DAYS", timedelta(days=90), _days),
        Setting("WEBHOOK_RETENTION_DAYS", timedelta(days=30), _days),
        Setting("RECONNECT_WARNING_SECONDS", timedelta(days=14), _seconds),
        _provider_setting("DISCOGS_CONSUMER_KEY", "sandbox-discogs-key", ""),
        _provider_setting("DISCOGS_CONSUMER_SECRET", "sandbox-discogs-secret", ""),
        _provider_setting("DISCOGS_API_URL", "{sandbox}/discogs", "https://api.discogs.com"),
        _provider_setting(
            "DISCOGS_AUTHORIZE_URL",
            "{sandbox}/discogs/oauth/authorize",
            "https://www.discogs.com/oauth/authorize",
        ),
        Setting("DISCOGS_SIGNATURE_METHOD", "HMAC-SHA1"),
        _provider_setting("PINTEREST_CLIENT_ID", "sandbox-pinterest-client", ""),
        _provider_setting("PINTEREST_CLIENT_SECRET", "sandbox-pinterest-secret", ""),
        _provider_setting(
            "PINTEREST_API_URL", "{sandbox}/pinterest/v5", "https://api.pinterest.com/v5"
        ),
        _provider_setting(
            "PINTEREST_AUTHORIZE_URL",
            "{sandbox}/pinterest/oauth/",
            "https://www.pinterest.com/oauth/",
        ),
        Setting("PINTEREST_SCOPES", ["user_accounts:read"], list),
        Setting("HTTP_MAX_RESPONSE_BYTES", 1 << 20, int),
        Setting("WEBHOOK_QUEUE", "webhooks"),
        Setting("WEBHOOK_TIMEOUT", 10.0, float),
        Setting("WEBHOOK_MAX_RESPONSE_BYTES", 64 * 1024, int),
        Setting(
            "WEBHOOK_RETRY_SCHEDULE_SECONDS",
            [5, 300, 1800, 7200, 18000, 36000, 36000],
            lambda value: [float(seconds) for seconds in value],
        ),
        Setting("WEBHOOK_MAX_COUNTDOWN", 300.0, float),
        Setting("WEBHOOK_LEASE_SECONDS", timedelta(minutes=15), _seconds),
        Setting("WEBHOOK_ENDPOINT_CONCURRENCY", 4, int),
        Setting("WEBHOOK_DISABLE_AFTER_SECONDS", timedelta(days=3), _seconds),
        Setting("WEBHOOK_ALLOW_PRIVATE", lambda get: bool(settings.DEBUG), bool),
        Setting("API_RATE_LIMIT", "600/60"),
        Setting("CONNECT_RETURN_ORIGINS", [], list),
        Setting(
            "CONNECT_SESSION_TTL_SECONDS",
            timedelta(minutes=30),
            lambda value: min(_seconds(value), timedelta(minutes=30)),
        ),
        Setting("PROXY_MAX_BYTES", 10 * 1024 * 1024, int),
        Setting("PROXY_DEADLINE_SECONDS", 30.0, float),
    )
}


def value(name: str) -> Any:
    """Return the setting `name` (without the prefix) in the form call sites use: the site's
    `CONNECTAPP_<name>`, else the default."""
    setting = SETTINGS[name]
    if hasattr(settings, setting.prefixed):
        return setting.convert(getattr(settings, setting.prefixed))
    default = setting.default
    return default(value) if callable(default) else default
