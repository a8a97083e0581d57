"""The Celery app; its configuration is the `CELERY_*` settings.

Two queues: the default one for the sweeps, and `CONNECTAPP_PROVIDER_QUEUE` for every task
that calls a provider (the tasks name it themselves, so a host site's Celery app routes them
the same way). A worker started without `-Q` consumes both.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectapp.settings")

app = Celery("connectapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
