"""connectapp: the reusable Django apps (connections, providers, sandbox).

This repository's standalone project (`standalone/`, not part of the package) runs them as a
site of its own. There, loading the package loads connectapp's Celery app (Django's documented
Celery pattern), so every process, the ones that never import `connectapp.celery` themselves
included (commands, site code), publishes with its configuration; `celery -A connectapp`
finds that app. It is loaded only for the standalone settings (`DJANGO_SETTINGS_MODULE`
unset counts as them): a host site has a Celery app and a settings module of its own, and there
the package loads no second app.
"""

import os

#: The standalone project's settings module, the default of its entry points.
STANDALONE_SETTINGS = "standalone.settings"

if os.environ.get("DJANGO_SETTINGS_MODULE", STANDALONE_SETTINGS) == STANDALONE_SETTINGS:
    from .celery import app as celery_app

    __all__ = ("celery_app",)
