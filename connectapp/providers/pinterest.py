"""Pinterest: OAuth 2.0 authorization code, HTTP Basic client authentication, refresh tokens."""

from django.conf import settings

from .base import Provider


class Pinterest(Provider):
    name = "pinterest"
    display_name = "Pinterest"
    description = "See your Pinterest profile."
    supports_refresh = True

    @property
    def configured(self) -> bool:
        return bool(settings.PINTEREST_CLIENT_ID and settings.PINTEREST_CLIENT_SECRET)

    def scopes(self) -> list[str]:
        return list(settings.PINTEREST_SCOPES)

    def begin(self, callback_url):
        raise NotImplementedError

    def finish(self, params, pending, callback_url):
        raise NotImplementedError

    def identity(self, tokens):
        raise NotImplementedError

    def session(self, tokens):
        raise NotImplementedError
