from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connectapp.connections"
    label = "connections"
    verbose_name = "Connections"

    def ready(self) -> None:
        """Fill in the settings a host site left unset (see `connectapp.conf`), then check
        the providers file at start-up, not on the first request that needs it."""
        from connectapp import conf
        from connectapp.providers import registry

        conf.publish()

        registry.validate()
