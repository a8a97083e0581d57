"""Generic providers described in a TOML file, as a site describes its own
(`CONNECTAPP_PROVIDERS_FILE`).

Registered for the whole suite by `tests/conftest.py` (`pytest_plugins`): the `use_providers`
fixture makes tables the site's providers; `toml_table` and `generic_provider` write them.
"""

import json
from collections.abc import Callable
from pathlib import Path

import pytest


def toml_table(name: str, **fields: str | list[str]) -> str:
    """Return the TOML table `[providers.<name>]` holding `fields` (JSON strings and arrays of
    strings are valid TOML)."""
    lines = [
        f"[providers.{name}]",
        *(f"{key} = {json.dumps(value)}" for key, value in fields.items()),
    ]
    return "\n" + "\n".join(lines) + "\n"


def generic_provider(name: str, url: str, **fields: str | list[str]) -> str:
    """Return the TOML table of a per-user OAuth 2.0 provider `name` served at `url`: its
    authorize, token and userinfo endpoints are `/authorize`, `/token` and `/userinfo` there, its
    client `<name>-client` with the secret `<name>-secret`; `fields` add to these or replace
    them (`display_name` is the name, capitalized, unless given)."""
    standard = {
        "display_name": name.capitalize(),
        "authorize_url": f"{url}/authorize",
        "token_url": f"{url}/token",
        "userinfo_url": f"{url}/userinfo",
        "client_id": f"{name}-client",
        "client_secret": f"{name}-secret",
    }
    return toml_table(name, **(standard | fields))


def write_providers(folder: Path, *tables: str) -> Path:
    """Return the providers file written in `folder`, holding `tables`."""
    path = folder / "providers.toml"
    path.write_text("".join(tables))
    return path


@pytest.fixture
def use_providers(tmp_path, settings) -> Callable[..., Path]:
    """Return a function that makes TOML `tables` this site's generic providers (for the test)
    and returns the file they are in."""

    def use(*tables: str) -> Path:
        path = write_providers(tmp_path, *tables)
        settings.CONNECTAPP_PROVIDERS_FILE = str(path)
        return path

    return use
