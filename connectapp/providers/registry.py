"""Providers by name. Adding a provider is adding a module and naming its class here."""

from functools import cache

from django.utils.module_loading import import_string

from .base import Provider, UnknownProvider

BUILTIN_PROVIDERS = (
    "connectapp.providers.discogs.Discogs",
    "connectapp.providers.pinterest.Pinterest",
)


@cache
def _providers() -> dict[str, Provider]:
    providers = {}
    for path in BUILTIN_PROVIDERS:
        provider = import_string(path)()
        providers[provider.name] = provider
    return providers


def get(name: str) -> Provider:
    try:
        return _providers()[name]
    except KeyError:
        raise UnknownProvider(name) from None


def all_providers() -> list[Provider]:
    return list(_providers().values())
