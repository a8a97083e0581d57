from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connectapp.connections"
    label = "connections"
    verbose_name = "Connections"

    def ready(self) -> None:
        """Check the providers file at start-up, not on the first request that needs it."""
        from connectapp.providers import registry

        registry.validate()
