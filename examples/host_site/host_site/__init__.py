"""A Django site that installs connectapp as a package."""

from .celery import app as celery_app

__all__ = ["celery_app"]
