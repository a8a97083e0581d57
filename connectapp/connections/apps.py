from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connectapp.connections"
    label = "connections"
    verbose_name = "Connections"

    def ready(self) -> None:
        """Check the providers file at start-up, not on the first request that needs it, and
        remember the status each link is loaded with (events tell a recovery by it)."""
        from connectapp.providers import registry

        registry.validate()
        from . import events_service  # noqa: F401 - connects its receiver of loaded links
