from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connectapp.connections"
    label = "connections"
    verbose_name = "Connections"

    def ready(self) -> None:
        """Fill in the settings a host site left unset (see `connectapp.conf`), check the
        providers file at start-up (not on the first request that needs it), and remember the
        status each link is loaded with (events tell a recovery by it)."""
        from connectapp import conf
        from connectapp.providers import registry

        conf.publish()

        registry.validate()
        from .services import events  # noqa: F401 - connects its receiver of loaded links
