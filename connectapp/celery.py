"""The standalone project's Celery app (`celery -A connectapp`); its configuration is the
`CELERY_*` settings of `standalone.settings`, or of the settings `DJANGO_SETTINGS_MODULE` names.
A host site runs a Celery app of its own, which discovers connectapp's tasks.

Three queues: the default one for the sweeps, `CONNECTAPP_PROVIDER_QUEUE` for every task that
calls a provider and `CONNECTAPP_WEBHOOK_QUEUE` for webhook deliveries, where
`CELERY_TASK_ROUTES` (connectapp's router, `connectapp.connections.queues`, which a host site's
Celery app uses the same way) sends them. A worker started without `-Q` consumes all three.

A worker process keeps its database connection across tasks, as a web process keeps it across
requests: around each task it is closed only when broken or older than `CONN_MAX_AGE`
(`CELERY_DB_REUSE_MAX` stops Celery's Django fixup from closing it every time).
"""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.core.exceptions import ImproperlyConfigured

from connectapp import (
    STANDALONE_SETTINGS,
    standalone_settings_chosen,
    standalone_settings_importable,
)

if standalone_settings_chosen() and not standalone_settings_importable():
    # Said here, not as Django's "No module named 'standalone'" when the worker starts: this is
    # a host that ran `celery -A connectapp` (the wheel has no standalone project).
    raise ImproperlyConfigured(
        f"connectapp's Celery app is the standalone project's, and its settings "
        f"({STANDALONE_SETTINGS}) cannot be imported here: they are in connectapp's repository, "
        "not in the installed package. In your own Django site, run your project's Celery app "
        "(`celery -A yourproject worker`, with DJANGO_SETTINGS_MODULE naming your settings); "
        "it discovers connectapp's tasks. For the standalone project, run this from the top "
        "folder of connectapp's repository."
    )
os.environ.setdefault("DJANGO_SETTINGS_MODULE", STANDALONE_SETTINGS)

app = Celery("connectapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_connections(sender=None, **kwargs) -> None:
    """Close the task's database connections that are broken or past `CONN_MAX_AGE`, as Django
    does around a request; an eager task runs in its caller's connection and leaves it be."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
