"""The host site's own Celery app: connectapp's tasks register on it by autodiscovery."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "host_site.settings")

app = Celery("host_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
