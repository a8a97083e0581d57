"""The Celery app is loaded with the package, so any process publishes where the workers listen."""

import json
import os

import redis
from cryptography.fernet import Fernet
from django.conf import settings

from tests.support.processes import ROOT, run_python
from tests.support.workers import purge_queues

HOST_SITE = ROOT / "examples" / "host_site"


def run_shell(folder, code: str, env: dict[str, str]) -> None:
    """Run `code` in `manage.py shell` of the project in `folder`, with only `env`."""
    result = run_python("manage.py", "shell", "-c", code, env=env, cwd=folder)
    assert result.returncode == 0, result.stderr


def test_a_process_that_never_imports_the_celery_app_publishes_refreshes_to_the_provider_queue(
    redis_url,
):
    purge_queues()
    publish = (
        "from connectapp.connections.tasks import refresh_account; refresh_account.delay(4242)"
    )
    env = {**os.environ, "DEBUG": "true", "CELERY_BROKER_URL": redis_url}

    run_shell(ROOT, publish, env)

    broker = redis.Redis.from_url(redis_url)
    try:
        messages = broker.lrange(settings.CONNECTAPP_PROVIDER_QUEUE, 0, -1)
        assert broker.llen(settings.CELERY_TASK_DEFAULT_QUEUE) == 0
    finally:
        purge_queues()
    assert len(messages) == 1
    headers = json.loads(messages[0])["headers"]
    assert headers["task"] == "connectapp.connections.tasks.refresh_account"
    assert headers["argsrepr"] == "(4242,)"


def test_a_host_sites_own_celery_app_sends_each_task_to_its_queue(redis_url):
    """A process with only the host site's settings and Celery app (examples/host_site), one
    message each way a task is sent: `delay`, and the sweeps' bulk publish."""
    purge_queues()
    publish = (
        "from connectapp.connections import tasks\n"
        "from connectapp.connections.infra import broker\n"
        "tasks.refresh_account.delay(4242)\n"
        "broker.publish_each(tasks.verify_account, [4343, 4344], 'discogs')\n"
        "tasks.dispatch_event.delay(4545)\n"
        "tasks.deliver_webhook.delay(4646)\n"
        "tasks.refresh_due.delay()\n"
    )
    env = {
        **{
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("CONNECTAPP_", "CELERY_", "DJANGO_", "DEBUG"))
        },
        "PYTHONPATH": str(ROOT),
        "HOST_SITE_SECRET_KEY": "host-site-secret-key-for-this-test-only",
        "HOST_SITE_TOKEN_KEYS": Fernet.generate_key().decode(),
        "HOST_SITE_BROKER_URL": redis_url,
    }

    run_shell(HOST_SITE, publish, env)

    broker = redis.Redis.from_url(redis_url)
    try:
        sent = {
            queue: sorted(
                json.loads(message)["headers"]["task"].rsplit(".", 1)[-1]
                for message in broker.lrange(queue, 0, -1)
            )
            for queue in ("celery", "providers", "webhooks")
        }
    finally:
        purge_queues()
    assert sent == {
        "celery": ["refresh_due"],
        "providers": ["refresh_account", "verify_account", "verify_account"],
        "webhooks": ["deliver_webhook", "dispatch_event"],
    }


def _without_the_standalone_project(folder):
    """Return an environment where `connectapp` is importable from `folder` and the standalone
    project is not (as where the wheel is installed), with no settings module named."""
    (folder / "connectapp").symlink_to(ROOT / "connectapp", target_is_directory=True)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTHONPATH"))},
        "PYTHONPATH": str(folder),
    }


def test_where_the_standalone_project_is_missing_the_package_loads_no_celery_app(tmp_path):
    env = _without_the_standalone_project(tmp_path)

    result = run_python(
        "-c",
        "import os, connectapp; "
        "print(hasattr(connectapp, 'celery_app'), os.environ.get('DJANGO_SETTINGS_MODULE'))",
        env=env,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "None"]


def test_celery_dash_a_connectapp_without_the_standalone_project_says_what_to_run(tmp_path):
    """A host site that runs `celery -A connectapp` by mistake is told to run its own app."""
    env = _without_the_standalone_project(tmp_path)

    result = run_python("-m", "celery", "-A", "connectapp", "report", env=env, cwd=tmp_path)

    assert result.returncode != 0
    assert "settings (standalone.settings) cannot be imported here" in result.stderr
    assert "run your project's Celery app" in result.stderr
