from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def _restore_schedule_triggers(sender, using: str, **kwargs) -> None:
    """SQLite drops a table's triggers when a migration rebuilds the table: put them back."""
    from . import schedule

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    if schedule.SCHEDULE in connection.introspection.table_names():
        schedule.install(connection)


class ConnectionsConfig(AppConfig):
    name = "connectapp.connections"
    label = "connections"
    verbose_name = "Connections"

    def ready(self) -> None:
        """Check the providers file at start-up, not on the first request that needs it."""
        from connectapp.providers import registry

        registry.validate()
        post_migrate.connect(_restore_schedule_triggers, sender=self)
