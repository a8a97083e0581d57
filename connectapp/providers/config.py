"""OAuth 2.0 providers described in a TOML file (`CONNECTAPP_PROVIDERS_FILE`) or in the
site's settings (`CONNECTAPP_PROVIDERS`, a dict of the same tables by name).

Each `[providers.<name>]` table becomes an `OAuth2Provider` (a user connects an account:
authorization code) or a `ClientCredentialsProvider` (the site's own token). The file is read
and checked once, at start-up; every problem is reported with the file (or setting), the
provider and the field, and never with the value of a secret. The README's "Generic OAuth 2.0
providers" section documents the fields.
"""

import os
import re
import tomllib
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from .base import Provider
from .oauth2 import ClientCredentialsProvider, OAuth2Provider

GRANT_TYPES = ("authorization_code", "client_credentials")
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
#: Names appear in URLs (`/connections/<name>/connect/`) and in the database.
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ENVIRONMENT_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
JSON_PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")

FIELDS = frozenset(
    {
        "display_name",
        "description",
        "grant_type",
        "authorize_url",
        "token_url",
        "userinfo_url",
        "revocation_url",
        "api_base_url",
        "id_path",
        "username_path",
        "scopes",
        "scope_separator",
        "scope_words",
        "client_id",
        "client_id_env",
        "client_secret",
        "client_secret_env",
        "client_auth",
        "pkce",
        "authorize_params",
        "token_params",
    }
)
#: Parameters the protocol itself sends; extra parameters may not override them.
PROTOCOL_PARAMETERS = frozenset(
    {
        "client_id",
        "client_secret",
        "code",
        "code_challenge",
        "code_challenge_method",
        "code_verifier",
        "grant_type",
        "redirect_uri",
        "refresh_token",
        "response_type",
        "scope",
        "state",
    }
)
#: Fields that only a user's connection (the authorization code grant) uses.
USER_FLOW_FIELDS = (
    "authorize_url",
    "userinfo_url",
    "id_path",
    "username_path",
    "pkce",
    "scope_words",
)


class _Problems:
    """Collects what is wrong with one provider table, each naming its field."""

    def __init__(self, source: str | Path, name: str):
        self.where = f"{source}: provider {name!r}"
        self.found: list[str] = []

    def add(self, field: str, problem: str) -> None:
        self.found.append(f"{self.where}: {field}: {problem}")


def load(path: str | Path, *, reserved: Collection[str] = ()) -> list[Provider]:
    """The providers the file describes; `ImproperlyConfigured` listing every problem.

    `reserved` are the names already taken (the built-in providers).
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        raise ImproperlyConfigured(f"CONNECTAPP_PROVIDERS_FILE: {path} does not exist") from None
    except OSError as problem:
        raise ImproperlyConfigured(
            f"CONNECTAPP_PROVIDERS_FILE: {path} cannot be read ({problem.strerror})"
        ) from None
    except tomllib.TOMLDecodeError as problem:
        raise ImproperlyConfigured(f"{path}: not valid TOML: {problem}") from None

    unexpected = sorted(set(document) - {"providers"})
    if unexpected:
        raise ImproperlyConfigured(
            f"{path}: unknown top-level key(s) {', '.join(unexpected)}; "
            "describe each provider in a [providers.<name>] table"
        )
    tables = document.get("providers", {})
    if not isinstance(tables, dict):
        raise ImproperlyConfigured(f"{path}: providers must be tables: [providers.<name>]")
    return parse(tables, source=path, reserved=reserved)


def parse(
    tables: Mapping[str, Any], *, source: str | Path, reserved: Collection[str] = ()
) -> list[Provider]:
    """Return the providers `tables` describes (each name's table of fields, as in the file);
    `ImproperlyConfigured` listing every problem, each naming `source`."""
    if not isinstance(tables, Mapping):
        raise ImproperlyConfigured(f"{source}: must be a dict of providers by name")
    providers: list[Provider] = []
    problems: list[str] = []
    for name, table in tables.items():
        found = _Problems(source, name)
        provider = _provider(name, table, found, reserved)
        problems.extend(found.found)
        if provider is not None and not found.found:
            providers.append(provider)
    if problems:
        raise ImproperlyConfigured("\n".join(problems))
    return providers


def _provider(
    name: str, table: Any, problems: _Problems, reserved: Collection[str]
) -> Provider | None:
    if not isinstance(table, dict):
        problems.add("(table)", "must be a table of fields: [providers.<name>]")
        return None
    if not NAME.match(name):
        problems.add(
            "(name)",
            "must be 1 to 64 lowercase letters, digits, - or _, starting with one of the first two",
        )
    if name in reserved:
        problems.add("(name)", "is the name of a built-in provider; choose another")
    for unknown in sorted(set(table) - FIELDS):
        problems.add(unknown, "is not a known field")

    def read(field: str, check: Callable[[Any], str], default: Any = None) -> Any:
        if field not in table:
            return default
        problem = check(table[field])
        if problem:
            problems.add(field, problem)
            return default
        return table[field]

    grant_type = read("grant_type", _one_of(GRANT_TYPES), "authorization_code")
    user_flow = grant_type == "authorization_code"
    display_name = read("display_name", _text)
    if display_name is None and "display_name" not in table:
        problems.add("display_name", "is required")
    attributes: dict[str, Any] = {
        "name": name,
        "display_name": display_name or name,
        "description": read("description", _text, ""),
        "token_url": read("token_url", _url, ""),
        "revocation_url": read("revocation_url", _url, ""),
        "api_base_url": read("api_base_url", _url, "").rstrip("/"),
        "default_scopes": tuple(read("scopes", _strings, [])),
        "scope_separator": read("scope_separator", _separator, " "),
        "token_endpoint_auth_method": read(
            "client_auth", _one_of(CLIENT_AUTH_METHODS), "client_secret_basic"
        ),
        "token_params": dict(read("token_params", _parameters, {})),
        "client_id": _credential(table, "client_id", problems),
        "client_secret": _credential(table, "client_secret", problems),
    }
    if "token_url" not in table:
        problems.add("token_url", "is required")

    if not user_flow:
        for field in USER_FLOW_FIELDS:
            if field in table:
                problems.add(field, "applies only to grant_type = 'authorization_code'")
        return ClientCredentialsProvider(**attributes)

    for required in ("authorize_url", "userinfo_url"):
        if required not in table:
            problems.add(
                required,
                "is required for grant_type = 'authorization_code' (a user's link must know "
                "whose account it is)"
                if required == "userinfo_url"
                else "is required for grant_type = 'authorization_code'",
            )
    attributes.update(
        authorize_url=read("authorize_url", _url, ""),
        userinfo_url=read("userinfo_url", _url, ""),
        use_pkce=read("pkce", _boolean, True),
        scope_words=dict(read("scope_words", _words, {})),
        authorize_params=dict(read("authorize_params", _parameters, {})),
    )
    for field, attribute in (("id_path", "id_fields"), ("username_path", "username_fields")):
        paths = read(field, _json_paths)
        if paths is not None:
            attributes[attribute] = (paths,) if isinstance(paths, str) else tuple(paths)
    return OAuth2Provider(**attributes)


def _credential(table: Mapping[str, Any], field: str, problems: _Problems) -> str:
    """The value itself, or the one in the named environment variable ("" when it is unset).

    An unset variable leaves the provider "not configured", like unset Pinterest credentials.
    """
    variable = f"{field}_env"
    if field in table and variable in table:
        problems.add(field, f"give {field} or {variable}, not both")
        return ""
    if field in table:
        if not isinstance(table[field], str) or not table[field]:
            problems.add(field, "must be a non-empty string")
            return ""
        return table[field]
    if variable in table:
        name = table[variable]
        if not isinstance(name, str) or not ENVIRONMENT_VARIABLE.match(name):
            problems.add(variable, "must be the name of an environment variable")
            return ""
        return os.environ.get(name, "")
    problems.add(field, f"is required (or {variable}, the environment variable that holds it)")
    return ""


# --- Checks: each answers what is wrong ("" when nothing), never quoting a value ----------


def _text(value: Any) -> str:
    return "" if isinstance(value, str) and value.strip() else "must be a non-empty string"


def _url(value: Any) -> str:
    if not isinstance(value, str):
        return "must be a URL string"
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an absolute http(s) URL"
    return ""


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        return "" if value in choices else f"must be one of {', '.join(map(repr, choices))}"

    return check


def _boolean(value: Any) -> str:
    return "" if isinstance(value, bool) else "must be true or false"


def _strings(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(item, str) and item for item in value):
        return ""
    return "must be a list of non-empty strings"


def _separator(value: Any) -> str:
    return "" if value in (" ", ",", "+") else "must be ' ', ',' or '+'"


def _parameters(value: Any) -> str:
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        return "must be a table of string values"
    taken = sorted(set(value) & PROTOCOL_PARAMETERS)
    if taken:
        return f"must not set {', '.join(taken)}: the protocol sets those"
    return ""


def _words(value: Any) -> str:
    if (
        isinstance(value, dict)
        and value
        and all(
            scope and isinstance(words, str) and words.strip() for scope, words in value.items()
        )
    ):
        return ""
    return 'must be a table of scope = plain words (like boards = "See your boards")'


def _json_paths(value: Any) -> str:
    paths = [value] if isinstance(value, str) else value
    if (
        isinstance(paths, list)
        and paths
        and all(isinstance(path, str) and JSON_PATH.match(path) for path in paths)
    ):
        return ""
    return "must be a dotted JSON path (like data.user.id) or a list of them"
