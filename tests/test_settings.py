"""Settings come from the environment; production refuses to start without its secrets."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
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
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_production_refuses_without(name: str) -> None:
    """Production without the setting `name` refuses to start, saying so, with no traceback."""
    env = {**PRODUCTION}
    del env[name]
    result = manage("check", **env)
    assert result.returncode != 0
    assert f"{name} is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_without_secret_key_refuses_with_a_clear_message():
    assert_production_refuses_without("SECRET_KEY")


def test_production_without_encryption_keys_refuses_with_a_clear_message():
    assert_production_refuses_without("TOKEN_ENCRYPTION_KEYS")


def test_a_malformed_encryption_key_is_named_without_being_shown():
    result = manage("check", **{**PRODUCTION, "TOKEN_ENCRYPTION_KEYS": "not-a-fernet-key-at-all"})
    assert result.returncode != 0
    assert "key number 1 is not a valid Fernet key" in result.stderr
    assert "not-a-fernet-key-at-all" not in result.stderr


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
    result = manage("check", **{**PRODUCTION, "CELERY_BROKER_URL": "amqp://broker.example.com//"})
    assert result.returncode != 0
    assert "CONNECTAPP_REDIS_URL is not set and the broker is not Redis" in result.stderr
    assert "Traceback" not in result.stderr


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
    result = manage("check", **{**PRODUCTION, "CONNECTAPP_SANDBOX": "true"})
    assert result.returncode != 0
    assert "CONNECTAPP_SANDBOX is on while DEBUG is off" in result.stderr
    assert "Traceback" not in result.stderr


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
