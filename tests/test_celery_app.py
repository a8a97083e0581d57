"""The Celery app is loaded with the package, so any process publishes where the workers listen."""

import json
import os

import redis
from django.conf import settings

from tests.support.processes import run_python
from tests.support.workers import purge_queues


def test_a_process_that_never_imports_the_celery_app_publishes_refreshes_to_the_provider_queue(
    redis_url,
):
    purge_queues()
    publish = (
        "from connectapp.connections.tasks import refresh_account; refresh_account.delay(4242)"
    )
    env = {**os.environ, "DEBUG": "true", "CELERY_BROKER_URL": redis_url}

    result = run_python("manage.py", "shell", "-c", publish, env=env)

    assert result.returncode == 0, result.stderr
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
