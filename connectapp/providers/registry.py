"""Providers by name. Adding a provider is adding a module and naming its class here, or
describing it in the TOML file named by `CONNECTAPP_PROVIDERS_FILE` or in the
`CONNECTAPP_PROVIDERS` setting (see `config.py`).

The file is read once per path, and the setting once per value, and kept; `validate()` reads
them at start-up so a mistake stops the process with a clear message instead of surfacing on
the first request.
"""

import json
from functools import cache

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from connectapp import conf
from connectapp.exceptions import UnknownProvider

from . import config
from .base import Provider

BUILTIN_PROVIDERS = (
    "connectapp.providers.discogs.Discogs",
    "connectapp.providers.pinterest.Pinterest",
)


@cache
def _providers(providers_file: str, in_settings: str) -> dict[str, Provider]:
    providers = {}
    for path in BUILTIN_PROVIDERS:
        provider = import_string(path)()
        providers[provider.name] = provider
    if providers_file:
        for provider in config.load(providers_file, reserved=providers.keys()):
            providers[provider.name] = provider
    for provider in config.parse(
        json.loads(in_settings), source="CONNECTAPP_PROVIDERS", reserved=providers.keys()
    ):
        providers[provider.name] = provider
    return providers


def _all() -> dict[str, Provider]:
    return _providers(conf.value("PROVIDERS_FILE"), _frozen(conf.value("PROVIDERS")))


def _frozen(tables) -> str:
    """Return the `CONNECTAPP_PROVIDERS` setting as the key its providers are kept by."""
    try:
        return json.dumps(tables, sort_keys=True)
    except (TypeError, ValueError) as problem:
        raise ImproperlyConfigured(
            f"CONNECTAPP_PROVIDERS: must hold only strings, numbers, booleans, lists and dicts "
            f"({problem})"
        ) from None


def validate() -> None:
    """Load the providers now; `ImproperlyConfigured` names what is wrong in the file."""
    _all()


def get(name: str) -> Provider:
    """Return the provider of that name, per-user or app-level."""
    try:
        return _all()[name]
    except KeyError:
        raise UnknownProvider(name) from None


def user_providers() -> list[Provider]:
    """Return the providers users link their accounts to (what the pages and sweeps serve)."""
    return [provider for provider in _all().values() if not provider.app_level]


def app_providers() -> list[Provider]:
    """Return the providers this site holds one app-level (client credentials) link to."""
    return [provider for provider in _all().values() if provider.app_level]


def every_provider() -> list[Provider]:
    """Return every provider, those users link to first, then the app-level ones."""
    return [*user_providers(), *app_providers()]
