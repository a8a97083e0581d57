from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConnectionsConfig(AppConfig):
    name = "connectapp.connections"
    label = "connections"
    verbose_name = _("Connections")

    def ready(self) -> None:
        """Fill in the settings a host site left unset (see `connectapp.conf`), register the
        system checks (which judge the settings, the providers file among them, when
        `manage.py check`, `migrate` or `runserver` runs), and remember the status each link is
        loaded with (events tell a recovery by it)."""
        from connectapp import conf

        from . import checks  # noqa: F401 - registers the checks

        conf.publish()
        from .services import events  # noqa: F401 - connects its receiver of loaded links
