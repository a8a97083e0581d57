"""Django system checks: a missing or wrong connectapp setting is reported with a hint.

`manage.py check` (and `migrate`, `runserver`) runs them. Settings are read through
`connectapp.conf`; hints name them as a site sets them (`CONNECTAPP_…`).
"""

from collections.abc import Callable, Iterator

from celery import current_app
from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from connectapp import conf
from connectapp.providers import registry

from .queues import QUEUE_SETTINGS

#: Each built-in provider's pair of app credentials, as `conf` names them.
CREDENTIAL_PAIRS = {
    "Discogs": ("DISCOGS_CONSUMER_KEY", "DISCOGS_CONSUMER_SECRET"),
    "Pinterest": ("PINTEREST_CLIENT_ID", "PINTEREST_CLIENT_SECRET"),
}
#: Brokers that reach no worker in another process on another machine.
LOCAL_BROKERS = ("filesystem://", "memory://")


def check(find: Callable[[], Iterator[Error]]) -> Callable[..., list[Error]]:
    """Register `find`, which yields each error it finds, as a system check; return the check,
    which lists them."""

    def run(app_configs=None, **kwargs) -> list[Error]:
        return list(find())

    # Named and documented as `find`, but not with `functools.wraps`: Django would then read
    # `find`'s signature (its `__wrapped__`) and refuse a check taking no keyword arguments.
    run.__name__ = run.__qualname__ = find.__name__
    run.__doc__ = find.__doc__
    return register(run)


@check
def check_encryption_keys() -> Iterator[Error]:
    """Yield an error when there is no key to encrypt tokens with, or a key is not one."""
    keys = conf.value("TOKEN_ENCRYPTION_KEYS")
    if not keys:
        yield Error(
            id="connectapp.E001",
            msg="CONNECTAPP_TOKEN_ENCRYPTION_KEYS is not set: tokens cannot be stored.",
            hint="Set it to a list of Fernet keys, the newest first; make one with "
            '`python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"`.',
        )
        return
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            yield Error(
                id="connectapp.E002",
                msg=f"CONNECTAPP_TOKEN_ENCRYPTION_KEYS: key number {position} is not a valid "
                "Fernet key.",
                hint="A Fernet key is 32 random bytes in URL-safe base64 (44 characters), "
                "as Fernet.generate_key() makes it.",
            )


@check
def check_provider_credentials() -> Iterator[Error]:
    """Yield an error for each built-in provider with one half of its app credentials."""
    for display_name, names in CREDENTIAL_PAIRS.items():
        present = [name for name in names if conf.value(name)]
        if len(present) == 1:
            missing = next(name for name in names if name not in present)
            yield Error(
                id="connectapp.E003",
                msg=f"CONNECTAPP_{present[0]} is set but CONNECTAPP_{missing} is not: "
                f"{display_name} cannot be connected.",
                hint=f"Set both from the {display_name} app's settings, or neither "
                "(the provider is then shown as not configured).",
            )


@check
def check_providers_file() -> Iterator[Error]:
    """Yield an error when the providers file cannot be read, or it or the `PROVIDERS` setting
    describes providers wrongly."""
    try:
        registry.validate()
    except ImproperlyConfigured as problem:
        yield Error(
            id="connectapp.E004",
            msg=f"The providers described cannot be used: {problem}",
            hint="Fix CONNECTAPP_PROVIDERS_FILE or CONNECTAPP_PROVIDERS, whichever the message "
            "names (see examples/*.toml in connectapp's repository), or unset it to offer only "
            "the built-in providers.",
        )


@check
def check_sandbox() -> Iterator[Error]:
    """Yield an error when the sandbox stand-ins are on outside DEBUG."""
    if conf.value("SANDBOX") and not settings.DEBUG:
        yield Error(
            id="connectapp.E005",
            msg="CONNECTAPP_SANDBOX is on while DEBUG is off: the providers point at stand-ins "
            "that anyone can drive.",
            hint="Turn CONNECTAPP_SANDBOX off in production; it is for demos and tests.",
        )


@check
def check_session_engine() -> Iterator[Error]:
    """Yield an error when sessions are not kept in the database, where flows need them."""
    engine = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    if not issubclass(engine, DatabaseSessionStore):
        yield Error(
            id="connectapp.E006",
            msg=f"SESSION_ENGINE is {settings.SESSION_ENGINE}: connection flows keep their "
            "secrets in the session and take each one out once under the session's row "
            "lock, which needs sessions in the database.",
            hint='Set SESSION_ENGINE to "django.contrib.sessions.backends.db" or '
            '"django.contrib.sessions.backends.cached_db".',
        )


@check
def check_shared_store() -> Iterator[Error]:
    """Yield an error when workers may run elsewhere but no Redis is shared with them."""
    broker = getattr(settings, "CELERY_BROKER_URL", "") or current_app.conf.broker_url or ""
    if not (settings.DEBUG or conf.value("REDIS_URL") or broker.startswith(LOCAL_BROKERS)):
        yield Error(
            id="connectapp.E007",
            msg="CONNECTAPP_REDIS_URL is not set while the Celery broker is reached over the "
            "network: rotated tokens written ahead of the database, rate limits and counters "
            "would stay in one process's memory.",
            hint="Set CONNECTAPP_REDIS_URL to a Redis every web and worker process reaches "
            "(for example redis://redis:6379/1).",
        )


@check
def check_task_routes() -> Iterator[Warning]:
    """Yield a warning when the Celery app sends connectapp's tasks elsewhere than to the
    queues its settings name (the router is missing from `task_routes`)."""
    router = current_app.amqp.router
    elsewhere = sorted(
        name.rsplit(".", 1)[-1]
        for name, setting in QUEUE_SETTINGS.items()
        if router.route({}, name)["queue"].name != conf.value(setting)
    )
    if elsewhere:
        yield Warning(
            id="connectapp.W001",
            msg=f"The Celery app sends {', '.join(elsewhere)} to other queues than "
            "CONNECTAPP_PROVIDER_QUEUE and CONNECTAPP_WEBHOOK_QUEUE: a slow provider or "
            "webhook receiver would hold back every other task.",
            hint='Add "connectapp.connections.queues.route_task" to CELERY_TASK_ROUTES (your '
            "Celery app's task_routes).",
        )
