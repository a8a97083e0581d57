"""The Celery app; its configuration is the `CELERY_*` settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectapp.settings")

app = Celery("connectapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
