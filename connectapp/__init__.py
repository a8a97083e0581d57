"""connectapp: the Django project and its app. Loading the package loads the Celery app
(Django's documented Celery pattern), so every process, the ones that never import
`connectapp.celery` themselves included (commands, site code), publishes with its routes."""

from .celery import app as celery_app

__all__ = ("celery_app",)
