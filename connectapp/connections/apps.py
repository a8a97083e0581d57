from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _restore_schedule_triggers(sender, using: str, **kwargs) -> None:
    """SQLite drops a table's triggers when a migration rebuilds the table: put them back."""
    from . import schedule

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    if schedule.SCHEDULE not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        columns = connection.introspection.get_table_description(cursor, schedule.SCHEDULE)
    schedule.install(connection, renewable=any(column.name == "renewable" for column in columns))


class ConnectionsConfig(AppConfig):
    name = "connectapp.connections"
    label = "connections"
    verbose_name = _("Connections")

    def ready(self) -> None:
        """Register the system checks (which judge the settings, the providers file among them,
        when `manage.py check`, `migrate` or `runserver` runs), and remember the status each
        link is loaded with (events tell a recovery by it)."""
        from . import checks  # noqa: F401 - registers the checks
        from .services import events  # noqa: F401 - connects its receiver of loaded links

        post_migrate.connect(_restore_schedule_triggers, sender=self)
