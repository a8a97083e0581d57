"""`manage.py check` reports each missing or wrong connectapp setting with its id and a hint."""

import pytest
from celery import current_app
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from connectapp.connections import checks


def _ids(errors) -> list[str]:
    return [error.id for error in errors]


def test_the_projects_own_settings_pass_every_check():
    call_command("check")


def test_the_check_command_reports_a_wrong_setting(settings):
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = []

    with pytest.raises(SystemCheckError, match=r"connectapp\.E001"):
        call_command("check")


def test_missing_encryption_keys_are_an_error(settings):
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = []

    errors = checks.check_encryption_keys()

    assert _ids(errors) == ["connectapp.E001"]
    assert "Fernet.generate_key()" in errors[0].hint


def test_a_key_that_is_not_a_fernet_key_is_named_by_position(settings):
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), "not-a-key"]

    errors = checks.check_encryption_keys()

    assert _ids(errors) == ["connectapp.E002"]
    assert "key number 2" in errors[0].msg
    assert "not-a-key" not in errors[0].msg + errors[0].hint


def test_valid_host_keys_pass(settings):
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    assert checks.check_encryption_keys() == []


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        ("DISCOGS_CONSUMER_KEY", "DISCOGS_CONSUMER_SECRET"),
        ("PINTEREST_CLIENT_ID", "PINTEREST_CLIENT_SECRET"),
        ("PINTEREST_CLIENT_SECRET", "PINTEREST_CLIENT_ID"),
    ],
)
def test_a_provider_with_half_its_credentials_is_an_error(settings, present, missing):
    setattr(settings, f"CONNECTAPP_{present}", "set")
    setattr(settings, f"CONNECTAPP_{missing}", "")

    errors = checks.check_provider_credentials()

    assert _ids(errors) == ["connectapp.E003"]
    assert f"CONNECTAPP_{missing} is not" in errors[0].msg


def test_a_provider_with_both_or_neither_credential_passes(settings):
    settings.CONNECTAPP_DISCOGS_CONSUMER_KEY = "key"
    settings.CONNECTAPP_DISCOGS_CONSUMER_SECRET = "secret"
    settings.CONNECTAPP_PINTEREST_CLIENT_ID = ""
    settings.CONNECTAPP_PINTEREST_CLIENT_SECRET = ""

    assert checks.check_provider_credentials() == []


def test_a_providers_file_that_does_not_exist_is_an_error(settings, tmp_path):
    settings.CONNECTAPP_PROVIDERS_FILE = str(tmp_path / "nowhere.toml")

    errors = checks.check_providers_file()

    assert _ids(errors) == ["connectapp.E004"]
    assert "nowhere.toml does not exist" in errors[0].msg


def test_a_providers_file_that_is_not_toml_is_an_error(settings, tmp_path):
    broken = tmp_path / "providers.toml"
    broken.write_text("[providers.acme\n")
    settings.CONNECTAPP_PROVIDERS_FILE = str(broken)

    errors = checks.check_providers_file()

    assert _ids(errors) == ["connectapp.E004"]
    assert "not valid TOML" in errors[0].msg


def test_the_sandbox_outside_debug_is_an_error(settings):
    settings.CONNECTAPP_SANDBOX = True
    settings.DEBUG = False

    assert _ids(checks.check_sandbox()) == ["connectapp.E005"]

    settings.DEBUG = True
    assert checks.check_sandbox() == []


@pytest.mark.parametrize(
    ("engine", "ids"),
    [
        ("django.contrib.sessions.backends.signed_cookies", ["connectapp.E006"]),
        ("django.contrib.sessions.backends.cache", ["connectapp.E006"]),
        ("django.contrib.sessions.backends.db", []),
        ("django.contrib.sessions.backends.cached_db", []),
    ],
)
def test_sessions_must_live_in_the_database(settings, engine, ids):
    settings.SESSION_ENGINE = engine

    assert _ids(checks.check_session_engine()) == ids


def test_a_networked_broker_without_a_shared_redis_is_an_error(settings):
    settings.DEBUG = False
    settings.CELERY_BROKER_URL = "amqp://guest@broker:5672//"
    settings.CONNECTAPP_REDIS_URL = ""

    assert _ids(checks.check_shared_store()) == ["connectapp.E007"]

    settings.CONNECTAPP_REDIS_URL = "redis://redis:6379/1"
    assert checks.check_shared_store() == []


def test_a_local_broker_needs_no_shared_redis(settings):
    settings.DEBUG = False
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CONNECTAPP_REDIS_URL = ""

    assert checks.check_shared_store() == []


@pytest.fixture
def celery_routes():
    """The Celery app's `task_routes`, put back after the test."""
    kept = current_app.conf.task_routes
    yield current_app.conf
    current_app.conf.update(task_routes=kept)


def test_a_celery_app_without_connectapps_router_is_warned_about(celery_routes):
    celery_routes.update(task_routes=[])

    warnings = checks.check_task_routes()

    assert _ids(warnings) == ["connectapp.W001"]
    assert "deliver_webhook, dispatch_event, refresh_account, verify_account" in warnings[0].msg
    assert "connectapp.connections.queues.route_task" in warnings[0].hint


def test_the_router_follows_the_queue_settings(celery_routes, settings):
    settings.CONNECTAPP_PROVIDER_QUEUE = "slow-calls"
    assert checks.check_task_routes() == []

    celery_routes.update(task_routes={"connectapp.connections.tasks.*": {"queue": "providers"}})
    assert "refresh_account" in checks.check_task_routes()[0].msg
