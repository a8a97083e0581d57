"""connectapp: the reusable Django apps and, in this repository, the standalone project.

As the standalone project, loading the package loads its Celery app (Django's documented Celery
pattern), so every process, the ones that never import `connectapp.celery` themselves included
(commands, site code), publishes with its configuration. A host site has a Celery app of its own
and its own settings module: there the package loads no second app.
"""

import os

if os.environ.get("DJANGO_SETTINGS_MODULE", "connectapp.settings") == "connectapp.settings":
    from .celery import app as celery_app

    __all__ = ("celery_app",)
