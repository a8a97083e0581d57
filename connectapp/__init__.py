"""connectapp: the reusable Django apps (connections, providers, sandbox).

This repository's standalone project (`standalone/`, not part of the package) runs them as a
site of its own. There, loading the package loads connectapp's Celery app (Django's documented
Celery pattern), so every process, the ones that never import `connectapp.celery` themselves
included (commands, site code), publishes with its configuration; `celery -A connectapp`
finds that app. It is loaded only for the standalone settings (`DJANGO_SETTINGS_MODULE`
unset counts as them), and only where they can be imported: a host site has a Celery app and
a settings module of its own, and there the package loads no second app.
"""

import os
from importlib.util import find_spec

#: The standalone project's settings module, the default of its entry points.
STANDALONE_SETTINGS = "standalone.settings"


def standalone_settings_chosen() -> bool:
    """Return whether this process runs with the standalone project's settings: named by
    `DJANGO_SETTINGS_MODULE`, or by nothing (they are the default of its entry points)."""
    return os.environ.get("DJANGO_SETTINGS_MODULE", STANDALONE_SETTINGS) == STANDALONE_SETTINGS


def standalone_settings_importable() -> bool:
    """Return whether the standalone project's settings can be imported here: in this
    repository, not where connectapp is installed from its wheel."""
    try:
        return find_spec(STANDALONE_SETTINGS) is not None
    except ModuleNotFoundError:
        return False


if standalone_settings_chosen() and standalone_settings_importable():
    from .celery import app as celery_app

    __all__ = ("celery_app",)
