"""connectapp's settings as a host site sets them: one prefix, Python values, documented defaults.

A host site sets `CONNECTAPP_<NAME>` in its Django settings (`CONNECTAPP_DISCOGS_CONSUMER_KEY`,
`CONNECTAPP_TOKEN_ENCRYPTION_KEYS`, `CONNECTAPP_REFRESH_WINDOW_SECONDS`, …): a list where the
environment variable holds a comma-separated list, a bool, an int of seconds. The standalone
project sets the older, un-prefixed names from its environment (`DISCOGS_CONSUMER_KEY`,
`TOKEN_ENCRYPTION_KEYS`, `CONNECTAPP_REFRESH_WINDOW` as a timedelta); those are read when the
prefixed name is not set. `value(name)` answers for either kind of site.

Most of the app still reads the un-prefixed names from `django.conf.settings` directly, so
`publish()` (called once when the app is ready) sets every such name a host left unset from
the value here. It goes away once every call site reads `value()`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings

PREFIX = "CONNECTAPP_"


def _seconds(value: Any) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


def _sandboxed(stand_in: Callable[[Callable[[str], Any]], Any], real: Any) -> Callable:
    """Return a default that points at the built-in stand-ins when `SANDBOX` is on."""
    return lambda get: stand_in(get) if get("SANDBOX") else real


@dataclass(frozen=True)
class Setting:
    """One setting: `name` as a host sets it (after the prefix), `legacy` as call sites read it."""

    name: str
    default: Any
    legacy: str
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
    return Setting(name, _sandboxed(stand_in, real), name)


SETTINGS = {
    setting.name: setting
    for setting in (
        Setting("TOKEN_ENCRYPTION_KEYS", [], "TOKEN_ENCRYPTION_KEYS", list),
        Setting("SANDBOX", False, "CONNECTAPP_SANDBOX", bool),
        Setting("SANDBOX_URL", "http://127.0.0.1:8000/sandbox", "CONNECTAPP_SANDBOX_URL"),
        Setting("PUBLIC_URL", "", "CONNECTAPP_PUBLIC_URL"),
        Setting("PROVIDERS_FILE", "", "CONNECTAPP_PROVIDERS_FILE", str),
        Setting("USER_AGENT", "connectapp/1.0 +https://localhost", "CONNECTAPP_USER_AGENT"),
        Setting("HTTP_TIMEOUT", 10.0, "CONNECTAPP_HTTP_TIMEOUT", float),
        Setting("FLOW_TTL_SECONDS", timedelta(minutes=10), "CONNECTAPP_FLOW_TTL", _seconds),
        Setting("CONNECT_RATE_LIMIT", "10/60", "CONNECTAPP_CONNECT_RATE_LIMIT"),
        Setting("RATE_LIMITS", {"discogs": "60/m"}, "CONNECTAPP_RATE_LIMITS", dict),
        Setting("REDIS_URL", "", "CONNECTAPP_REDIS_URL"),
        Setting("PROVIDER_QUEUE", "providers", "CONNECTAPP_PROVIDER_QUEUE"),
        Setting("TASK_SOFT_TIME_LIMIT_SECONDS", 60, "CONNECTAPP_TASK_SOFT_TIME_LIMIT", int),
        Setting(
            "TASK_TIME_LIMIT_SECONDS",
            lambda get: get("TASK_SOFT_TIME_LIMIT_SECONDS") + 30,
            "CONNECTAPP_TASK_TIME_LIMIT",
            int,
        ),
        Setting("SWEEP_TIME_LIMIT_SECONDS", 15 * 60, "CONNECTAPP_SWEEP_TIME_LIMIT", int),
        Setting("SWEEP_BATCH_SIZE", 1000, "CONNECTAPP_SWEEP_BATCH_SIZE", int),
        Setting(
            "VERIFY_INTERVAL_SECONDS", timedelta(hours=6), "CONNECTAPP_VERIFY_INTERVAL", _seconds
        ),
        Setting(
            "REFRESH_SWEEP_SECONDS",
            timedelta(minutes=1),
            "CONNECTAPP_REFRESH_SWEEP_INTERVAL",
            _seconds,
        ),
        Setting("REFRESH_WINDOW_SECONDS", timedelta(days=3), "CONNECTAPP_REFRESH_WINDOW", _seconds),
        Setting("REFRESH_LEASE_SECONDS", timedelta(hours=3), "CONNECTAPP_REFRESH_LEASE", _seconds),
        Setting(
            "EVENT_RETENTION_DAYS",
            timedelta(days=90),
            "CONNECTAPP_EVENT_RETENTION",
            lambda value: value if isinstance(value, timedelta) else timedelta(days=value),
        ),
        Setting(
            "RECONNECT_WARNING_SECONDS",
            timedelta(days=14),
            "CONNECTAPP_RECONNECT_WARNING",
            _seconds,
        ),
        _provider_setting("DISCOGS_CONSUMER_KEY", "sandbox-discogs-key", ""),
        _provider_setting("DISCOGS_CONSUMER_SECRET", "sandbox-discogs-secret", ""),
        _provider_setting("DISCOGS_API_URL", "{sandbox}/discogs", "https://api.discogs.com"),
        _provider_setting(
            "DISCOGS_AUTHORIZE_URL",
            "{sandbox}/discogs/oauth/authorize",
            "https://www.discogs.com/oauth/authorize",
        ),
        Setting("DISCOGS_SIGNATURE_METHOD", "HMAC-SHA1", "DISCOGS_SIGNATURE_METHOD"),
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
        Setting("PINTEREST_SCOPES", ["user_accounts:read"], "PINTEREST_SCOPES", list),
        Setting("HTTP_MAX_RESPONSE_BYTES", 1 << 20, "CONNECTAPP_HTTP_MAX_RESPONSE_BYTES", int),
        Setting("WEBHOOK_QUEUE", "webhooks", "CONNECTAPP_WEBHOOK_QUEUE"),
        Setting("WEBHOOK_TIMEOUT", 10.0, "CONNECTAPP_WEBHOOK_TIMEOUT", float),
        Setting(
            "WEBHOOK_MAX_RESPONSE_BYTES", 64 * 1024, "CONNECTAPP_WEBHOOK_MAX_RESPONSE_BYTES", int
        ),
        Setting(
            "WEBHOOK_RETRY_SCHEDULE_SECONDS",
            [5, 300, 1800, 7200, 18000, 36000, 36000],
            "CONNECTAPP_WEBHOOK_RETRY_SCHEDULE",
            lambda value: [float(seconds) for seconds in value],
        ),
        Setting("WEBHOOK_MAX_COUNTDOWN", 300.0, "CONNECTAPP_WEBHOOK_MAX_COUNTDOWN", float),
        Setting(
            "WEBHOOK_LEASE_SECONDS", timedelta(minutes=15), "CONNECTAPP_WEBHOOK_LEASE", _seconds
        ),
        Setting("WEBHOOK_ENDPOINT_CONCURRENCY", 4, "CONNECTAPP_WEBHOOK_ENDPOINT_CONCURRENCY", int),
        Setting(
            "WEBHOOK_DISABLE_AFTER_SECONDS",
            timedelta(days=3),
            "CONNECTAPP_WEBHOOK_DISABLE_AFTER",
            _seconds,
        ),
        Setting(
            "WEBHOOK_ALLOW_PRIVATE",
            lambda get: bool(settings.DEBUG),
            "CONNECTAPP_WEBHOOK_ALLOW_PRIVATE",
            bool,
        ),
        Setting("API_RATE_LIMIT", "600/60", "CONNECTAPP_API_RATE_LIMIT"),
        Setting("CONNECT_RETURN_ORIGINS", [], "CONNECTAPP_CONNECT_RETURN_ORIGINS", list),
        Setting(
            "CONNECT_SESSION_TTL_SECONDS",
            timedelta(minutes=30),
            "CONNECTAPP_CONNECT_SESSION_TTL",
            lambda value: min(_seconds(value), timedelta(minutes=30)),
        ),
        Setting("PROXY_MAX_BYTES", 10 * 1024 * 1024, "CONNECTAPP_PROXY_MAX_BYTES", int),
        Setting("PROXY_DEADLINE_SECONDS", 30.0, "CONNECTAPP_PROXY_DEADLINE", float),
    )
}


def value(name: str) -> Any:
    """Return the setting `name` (as a host names it, without the prefix) in the form call
    sites use: the host's `CONNECTAPP_<name>`, else the standalone project's name, else the
    default."""
    setting = SETTINGS[name]
    if hasattr(settings, setting.prefixed):
        return setting.convert(getattr(settings, setting.prefixed))
    if hasattr(settings, setting.legacy):
        return getattr(settings, setting.legacy)
    default = setting.default
    return default(value) if callable(default) else default


def publish() -> list[str]:
    """Set each un-prefixed name the app's modules still read and the site left unset.

    Return the names set. The standalone project sets them all itself, so there this does
    nothing."""
    missing = [setting for setting in SETTINGS.values() if not hasattr(settings, setting.legacy)]
    resolved = {setting.legacy: value(setting.name) for setting in missing}
    for name, resolved_value in resolved.items():
        setattr(settings, name, resolved_value)
    return sorted(resolved)
