"""Discogs: OAuth 1.0a (RFC 5849). Tokens do not expire; Discogs requires a User-Agent."""

from django.conf import settings

from .base import Provider


class Discogs(Provider):
    name = "discogs"
    display_name = "Discogs"
    description = "See your Discogs username and act on your collection and wantlist for you."
    flow_key_param = "oauth_token"

    @property
    def configured(self) -> bool:
        return bool(settings.DISCOGS_CONSUMER_KEY and settings.DISCOGS_CONSUMER_SECRET)

    def begin(self, callback_url):
        raise NotImplementedError

    def finish(self, params, pending, callback_url):
        raise NotImplementedError

    def identity(self, tokens):
        raise NotImplementedError

    def session(self, tokens):
        raise NotImplementedError
