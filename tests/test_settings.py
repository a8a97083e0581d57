"""Settings come from the environment; production refuses to start without its secrets."""

import os
import subprocess
from datetime import timedelta

from cryptography.fernet import Fernet

from tests.support.processes import run_python

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-key-for-tests-" + "x" * 30,
    "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "connect.example.com",
    "DATABASE_URL": "sqlite:////tmp/connectapp-settings-test.sqlite3",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        name: value
        for name, value in os.environ.items()
        if name not in PRODUCTION
        and not name.startswith(("DISCOGS_", "PINTEREST_", "CONNECTAPP_", "CELERY_", "DJANGO_"))
    }
    return run_python("manage.py", *args, env={**clean, **env})


def refusal(**changes: str | None) -> str:
    """Return what production, with `changes` to its settings (None: unset), says as it refuses
    to start; it must refuse, and with no traceback."""
    env = {name: value for name, value in {**PRODUCTION, **changes}.items() if value is not None}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    return result.stderr


def test_production_without_secret_key_refuses_with_a_clear_message():
    assert "SECRET_KEY is not set" in refusal(SECRET_KEY=None)


def test_production_without_encryption_keys_refuses_with_a_clear_message():
    assert "TOKEN_ENCRYPTION_KEYS is not set" in refusal(TOKEN_ENCRYPTION_KEYS=None)


def test_a_malformed_encryption_key_is_named_without_being_shown():
    said = refusal(TOKEN_ENCRYPTION_KEYS="not-a-fernet-key-at-all")
    assert "key number 1 is not a valid Fernet key" in said
    assert "not-a-fernet-key-at-all" not in said


def test_production_configuration_passes_the_deployment_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_runs_with_development_defaults():
    result = manage("check", DEBUG="true")
    assert result.returncode == 0, result.stderr


def test_database_and_broker_urls_are_read_from_the_environment():
    result = manage(
        "shell",
        "--verbosity=0",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], "
        "s.CELERY_BROKER_URL)",
        DEBUG="true",
        DATABASE_URL="postgres://someone@db.example.com:5432/connect",
        CELERY_BROKER_URL="redis://cache.example.com:6379/3",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "connect",
        "redis://cache.example.com:6379/3",
    ]


def test_the_embedded_default_needs_no_server():
    result = manage(
        "shell",
        "--verbosity=0",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL)",
        DEBUG="true",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://"]


def test_production_with_networked_workers_and_no_shared_store_refuses_with_a_clear_message():
    said = refusal(CELERY_BROKER_URL="amqp://broker.example.com//")
    assert "CONNECTAPP_REDIS_URL is not set and the broker is not Redis" in said


def test_production_with_networked_workers_and_a_shared_store_starts():
    result = manage(
        "check",
        **{
            **PRODUCTION,
            "CELERY_BROKER_URL": "amqp://broker.example.com//",
            "CONNECTAPP_REDIS_URL": "redis://store.example.com:6379/1",
        },
    )
    assert result.returncode == 0, result.stderr


def test_production_with_the_sandbox_on_refuses_with_a_clear_message():
    assert "CONNECTAPP_SANDBOX is on while DEBUG is off" in refusal(CONNECTAPP_SANDBOX="true")


RESOLVES_SANDBOX = (
    "from django.urls import Resolver404, resolve\n"
    "for path in ('/sandbox/discogs/', '/sandbox/pinterest/v5/oauth/token'):\n"
    "    try:\n"
    "        print(resolve(path).url_name)\n"
    "    except Resolver404:\n"
    "        print('not-routed')\n"
)


def test_the_stand_ins_are_routed_only_in_sandbox_mode():
    off = manage("shell", "--verbosity=0", "-c", RESOLVES_SANDBOX, DEBUG="true")
    on = manage(
        "shell", "--verbosity=0", "-c", RESOLVES_SANDBOX, DEBUG="true", CONNECTAPP_SANDBOX="true"
    )
    assert off.returncode == 0, off.stderr
    assert off.stdout.split() == ["not-routed", "not-routed"]
    assert on.returncode == 0, on.stderr
    assert on.stdout.split() == ["home", "token"]


def conf_values(names, **env: str) -> dict[str, str]:
    """Return `repr(conf.value(name))` for each name, in the project configured by `env`."""
    read = (
        "from connectapp import conf\n"
        f"for name in {list(names)!r}:\n"
        "    print(repr(conf.value(name)))"
    )
    result = manage("shell", "--verbosity=0", "-c", read, DEBUG="true", **env)
    assert result.returncode == 0, result.stderr
    return dict(zip(names, result.stdout.splitlines(), strict=True))


def test_every_connectapp_variable_reaches_the_app(tmp_path):
    keys = [Fernet.generate_key().decode(), Fernet.generate_key().decode()]
    providers_file = tmp_path / "providers.toml"
    providers_file.write_text("")
    # The variables whose text the app reads as it is, and those it converts (text, value).
    as_written = {
        "DISCOGS_CONSUMER_KEY": "dk",
        "DISCOGS_CONSUMER_SECRET": "ds",
        "DISCOGS_API_URL": "https://d.example",
        "DISCOGS_AUTHORIZE_URL": "https://d.example/a",
        "DISCOGS_SIGNATURE_METHOD": "PLAINTEXT",
        "PINTEREST_CLIENT_ID": "pc",
        "PINTEREST_CLIENT_SECRET": "ps",
        "PINTEREST_API_URL": "https://p.example/v5",
        "PINTEREST_AUTHORIZE_URL": "https://p.example/o",
        "CONNECTAPP_PROVIDERS_FILE": str(providers_file),
        "CONNECTAPP_SANDBOX_URL": "http://127.0.0.1:9/s",
        "CONNECTAPP_PUBLIC_URL": "https://c.example",
        "CONNECTAPP_CONNECT_RATE_LIMIT": "5/m",
        "CONNECTAPP_USER_AGENT": "site/2.0",
        "CONNECTAPP_REDIS_URL": "redis://store.example:6379/1",
        "CONNECTAPP_PROVIDER_QUEUE": "calls",
        "CONNECTAPP_API_RATE_LIMIT": "100/60",
        "CONNECTAPP_WEBHOOK_QUEUE": "hooks",
    }
    converted = {
        "TOKEN_ENCRYPTION_KEYS": (",".join(keys), keys),
        "PINTEREST_SCOPES": ("a:read,b:read", ["a:read", "b:read"]),
        "CONNECTAPP_SANDBOX": ("true", True),
        "CONNECTAPP_FLOW_TTL_SECONDS": ("120", timedelta(seconds=120)),
        "CONNECTAPP_HTTP_TIMEOUT": ("2.5", 2.5),
        "CONNECTAPP_HTTP_MAX_RESPONSE_BYTES": ("2048", 2048),
        "CONNECTAPP_REFRESH_WINDOW_SECONDS": ("3600", timedelta(hours=1)),
        "CONNECTAPP_REFRESH_SWEEP_SECONDS": ("30", timedelta(seconds=30)),
        "CONNECTAPP_REFRESH_LEASE_SECONDS": ("7200", timedelta(hours=2)),
        "CONNECTAPP_SWEEP_BATCH_SIZE": ("50", 50),
        "CONNECTAPP_RATE_LIMITS": ("discogs=30/m,x=1/s", {"discogs": "30/m", "x": "1/s"}),
        "CONNECTAPP_TASK_SOFT_TIME_LIMIT_SECONDS": ("40", 40),
        "CONNECTAPP_SWEEP_TIME_LIMIT_SECONDS": ("600", 600),
        "CONNECTAPP_RECONNECT_WARNING_SECONDS": ("86400", timedelta(days=1)),
        "CONNECTAPP_EVENT_RETENTION_DAYS": ("30", timedelta(days=30)),
        "CONNECTAPP_WEBHOOK_RETENTION_DAYS": ("7", timedelta(days=7)),
        "CONNECTAPP_VERIFY_INTERVAL_SECONDS": ("900", timedelta(minutes=15)),
        "CONNECTAPP_CONNECT_RETURN_ORIGINS": (
            "https://a.example,https://b.example",
            ["https://a.example", "https://b.example"],
        ),
        "CONNECTAPP_CONNECT_SESSION_TTL_SECONDS": ("600", timedelta(minutes=10)),
        "CONNECTAPP_PROXY_MAX_BYTES": ("4096", 4096),
        "CONNECTAPP_PROXY_DEADLINE_SECONDS": ("12.5", 12.5),
        "CONNECTAPP_WEBHOOK_TIMEOUT": ("4", 4.0),
        "CONNECTAPP_WEBHOOK_MAX_RESPONSE_BYTES": ("1000", 1000),
        "CONNECTAPP_WEBHOOK_RETRY_SCHEDULE_SECONDS": ("1,2.5", [1.0, 2.5]),
        "CONNECTAPP_WEBHOOK_MAX_COUNTDOWN": ("60", 60.0),
        "CONNECTAPP_WEBHOOK_LEASE_SECONDS": ("90", timedelta(seconds=90)),
        "CONNECTAPP_WEBHOOK_ENDPOINT_CONCURRENCY": ("2", 2),
        "CONNECTAPP_WEBHOOK_DISABLE_AFTER_SECONDS": ("3600", timedelta(hours=1)),
        "CONNECTAPP_WEBHOOK_ALLOW_PRIVATE": ("false", False),
    }
    table = {variable: (text, text) for variable, text in as_written.items()} | converted
    setting = {variable: variable.removeprefix("CONNECTAPP_") for variable in table}
    names = [*setting.values(), "TASK_TIME_LIMIT_SECONDS"]

    values = conf_values(names, **{variable: text for variable, (text, _) in table.items()})

    assert values == {
        **{setting[variable]: repr(value) for variable, (_, value) in table.items()},
        "TASK_TIME_LIMIT_SECONDS": "70",
    }


def test_the_sandbox_points_every_provider_not_configured_otherwise_at_the_stand_ins():
    names = ["DISCOGS_CONSUMER_KEY", "DISCOGS_API_URL", "PINTEREST_API_URL", "PINTEREST_CLIENT_ID"]

    values = conf_values(
        names,
        CONNECTAPP_SANDBOX="true",
        CONNECTAPP_SANDBOX_URL="http://127.0.0.1:9/sandbox",
        PINTEREST_API_URL="https://p.example/v5",
    )

    assert values == {
        "DISCOGS_CONSUMER_KEY": repr("sandbox-discogs-key"),
        "DISCOGS_API_URL": repr("http://127.0.0.1:9/sandbox/discogs"),
        "PINTEREST_API_URL": repr("https://p.example/v5"),
        "PINTEREST_CLIENT_ID": repr("sandbox-pinterest-client"),
    }


def test_a_connect_session_lives_thirty_minutes_at_most():
    values = conf_values(
        ["CONNECT_SESSION_TTL_SECONDS"], CONNECTAPP_CONNECT_SESSION_TTL_SECONDS="7200"
    )

    assert values == {"CONNECT_SESSION_TTL_SECONDS": repr(timedelta(minutes=30))}
