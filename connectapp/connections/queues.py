"""Which Celery queue each of connectapp's tasks is sent to: a router for `task_routes`.

The tasks that call a provider go to `CONNECTAPP_PROVIDER_QUEUE` (a slow provider fills that
queue while the sweeps keep running), webhook deliveries to `CONNECTAPP_WEBHOOK_QUEUE` (a slow
receiver holds back no refresh), and the sweeps to the app's default queue. Every Celery app
that sends connectapp's tasks routes them with this router, the standalone project's and a
host site's alike:

    CELERY_TASK_ROUTES = ["connectapp.connections.queues.route_task"]

The queue names are read when a task is sent, so overriding the settings takes effect at once.
"""

from typing import Any

from connectapp import conf

TASKS = "connectapp.connections.tasks"
#: Each task that has a queue of its own, and the setting that names the queue.
QUEUE_SETTINGS = {
    f"{TASKS}.refresh_account": "PROVIDER_QUEUE",
    f"{TASKS}.verify_account": "PROVIDER_QUEUE",
    f"{TASKS}.dispatch_event": "WEBHOOK_QUEUE",
    f"{TASKS}.deliver_webhook": "WEBHOOK_QUEUE",
}


def route_task(name: str, args: Any, kwargs: Any, options: dict, **_: Any) -> dict | None:
    """Return the route of the task `name`: its queue, or None (the app's default queue)."""
    setting = QUEUE_SETTINGS.get(name)
    return {"queue": conf.value(setting)} if setting else None
