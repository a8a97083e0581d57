"""Settings come from the environment; production refuses to start without its secrets."""

import os
import subprocess

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
