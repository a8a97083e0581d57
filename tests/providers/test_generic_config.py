"""Providers from the TOML file: what a valid file gives, and what an invalid one says."""

import os
import re
from pathlib import Path

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured

from connectapp.connections import checks
from connectapp.exceptions import AccessRevoked, ProviderUnavailable, UnknownProvider
from connectapp.providers import config, registry
from connectapp.providers.oauth2 import ClientCredentialsProvider, OAuth2Provider
from tests.support.processes import ROOT, run_python
from tests.support.providers_file import write_providers

EXAMPLES = ROOT / "examples"
SECRET = "s3cr3t-value-that-must-never-be-echoed"

PER_USER = """
[providers.acme]
display_name = "Acme"
authorize_url = "https://id.acme.test/authorize"
token_url = "https://id.acme.test/token"
userinfo_url = "https://api.acme.test/me"
client_id = "acme-client"
client_secret = "acme-secret"
"""


def problems_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ImproperlyConfigured) as raised:
        config.load(write_providers(tmp_path, text), reserved=("pinterest", "discogs"))
    return str(raised.value)


def test_a_minimal_per_user_provider_gets_the_oauth2_defaults(tmp_path):
    (provider,) = config.load(write_providers(tmp_path, PER_USER))

    assert type(provider) is OAuth2Provider
    assert (provider.name, provider.display_name) == ("acme", "Acme")
    assert provider.configured and not provider.app_level and provider.supports_refresh
    assert provider.use_pkce is True
    assert provider.token_endpoint_auth_method == "client_secret_basic"
    assert provider.scope_separator == " "
    assert provider.id_fields == ("sub", "id")
    assert provider.revocation_url == "" and not provider.offers_revocation
    assert provider.scope_words == {}


def test_every_field_of_the_per_user_example_is_used(monkeypatch):
    monkeypatch.setenv("EXAMPLE_ID_CLIENT_ID", "example-client")
    monkeypatch.setenv("EXAMPLE_ID_CLIENT_SECRET", SECRET)

    (provider,) = config.load(EXAMPLES / "per-user-provider.toml")

    assert provider.configured
    assert (provider.client_id, provider.client_secret) == ("example-client", SECRET)
    assert provider.scopes() == ["profile", "offline_access"]
    assert provider.id_fields == ("data.id",)
    assert provider.username_fields == ("data.username", "data.email")
    assert provider.authorize_params == {"prompt": "consent"}
    assert provider.revocation_url == "https://id.example.com/oauth2/revoke"
    assert provider.offers_revocation
    assert provider.permissions() == [
        "See your Example ID profile",
        "Keep this site connected while you are away",
    ]
    authorization = provider.begin("https://site.test/connections/example-id/callback/")
    assert "prompt=consent" in authorization.url
    assert "scope=profile+offline_access" in authorization.url
    assert "code_challenge_method=S256" in authorization.url


@pytest.mark.parametrize(
    ("example", "name", "auth_method", "token_url"),
    [
        (
            "client-credentials-form.toml",
            "partner-api",
            "client_secret_post",
            "https://api.partner.example/oauth2/token",
        ),
        (
            "alternative-payments.toml",
            "alternative-payments",
            "client_secret_basic",
            "http://public-api.alternativepayments.io/oauth/token",
        ),
    ],
)
def test_the_source_document_apis_are_app_level_providers(example, name, auth_method, token_url):
    (provider,) = config.load(EXAMPLES / example)

    assert isinstance(provider, ClientCredentialsProvider)
    assert provider.app_level and provider.name == name
    assert provider.token_endpoint_auth_method == auth_method
    assert provider.token_url == token_url


def test_the_readme_shows_the_examples_and_they_load(tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Generic OAuth 2.0 providers", 1)[1]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.S)

    assert len(blocks) >= 2
    for block in blocks:
        assert config.load(write_providers(tmp_path, block)), block
    shown = {block.strip() for block in blocks}
    for example in ("client-credentials-form.toml", "alternative-payments.toml"):
        assert (EXAMPLES / example).read_text().strip() in shown


def test_credentials_from_unset_environment_variables_leave_it_not_configured(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("ACME_SECRET", raising=False)
    text = PER_USER.replace('client_secret = "acme-secret"', 'client_secret_env = "ACME_SECRET"')

    (unset,) = config.load(write_providers(tmp_path, text))
    monkeypatch.setenv("ACME_SECRET", SECRET)
    (set_,) = config.load(write_providers(tmp_path, text))

    assert not unset.configured
    assert set_.configured and set_.client_secret == SECRET


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (('display_name = "Acme"', ""), "display_name", "is required"),
        (('token_url = "https://id.acme.test/token"', ""), "token_url", "is required"),
        (('userinfo_url = "https://api.acme.test/me"', ""), "userinfo_url", "whose account"),
        (("https://id.acme.test/token", "ftp://id.acme.test/token"), "token_url", "http(s) URL"),
        (
            ('display_name = "Acme"', 'display_name = "Acme"\nrevocation_url = "/revoke"'),
            "revocation_url",
            "must be an absolute http(s) URL",
        ),
        (
            ('display_name = "Acme"', 'display_name = "Acme"\nrevocation_url = 1'),
            "revocation_url",
            "must be a URL string",
        ),
        (
            ('display_name = "Acme"', 'display_name = "Acme"\nscope_words = ["a"]'),
            "scope_words",
            "must be a table of scope = plain words",
        ),
        (
            ('display_name = "Acme"', 'display_name = "Acme"\nscope_words = { read = "" }'),
            "scope_words",
            "must be a table of scope = plain words",
        ),
        (
            ('display_name = "Acme"', 'display_name = "Acme"\nscope_words = { read = 1 }'),
            "scope_words",
            "must be a table of scope = plain words",
        ),
        (
            ('display_name = "Acme"', 'display_name = "Acme"\ngrant = "x"'),
            "grant",
            "is not a known field",
        ),
        (
            ('display_name = "Acme"', 'display_name = "Acme"\ngrant_type = "password"'),
            "grant_type",
            "must be one of 'authorization_code', 'client_credentials'",
        ),
        (
            ('display_name = "Acme"', 'display_name = "Acme"\nclient_auth = "private_key_jwt"'),
            "client_auth",
            "client_secret_basic",
        ),
        (('display_name = "Acme"', 'display_name = "Acme"\npkce = "yes"'), "pkce", "true or"),
        (
            ('display_name = "Acme"', 'display_name = "Acme"\nscopes = "a b"'),
            "scopes",
            "list of non-empty strings",
        ),
        (
            ('display_name = "Acme"', 'display_name = "Acme"\nid_path = "data..id"'),
            "id_path",
            "dotted JSON path",
        ),
        (
            ('display_name = "Acme"', 'display_name = "Acme"\ntoken_params = { code = "x" }'),
            "token_params",
            "must not set code",
        ),
        (('client_id = "acme-client"', ""), "client_id", "client_id_env"),
        (
            ('client_id = "acme-client"', 'client_id_env = "NOT A NAME"'),
            "client_id_env",
            "environment variable",
        ),
        (("[providers.acme]", '[providers."Acme!"]'), "(name)", "lowercase letters"),
        (("[providers.acme]", "[providers.pinterest]"), "(name)", "built-in provider"),
    ],
)
def test_a_mistake_names_the_file_the_provider_and_the_field(tmp_path, change, field, problem):
    text = PER_USER.replace(*change)
    name = re.search(r"\[providers\.(.*)\]", text)[1].strip('"')

    message = problems_of(tmp_path, text)

    assert f"{tmp_path / 'providers.toml'}: provider {name!r}: {field}: " in message
    assert problem in message


def test_user_flow_fields_are_refused_for_client_credentials(tmp_path):
    message = problems_of(
        tmp_path, PER_USER.replace('display_name = "Acme"', 'grant_type = "client_credentials"')
    )
    assert "display_name: is required" in message
    assert "authorize_url: applies only to grant_type = 'authorization_code'" in message
    assert "userinfo_url: applies only to grant_type = 'authorization_code'" in message


def test_an_app_level_provider_may_revoke_but_has_no_scope_words(tmp_path):
    app_level = """
[providers.acme-app]
display_name = "Acme API"
grant_type = "client_credentials"
token_url = "https://id.acme.test/token"
revocation_url = "https://id.acme.test/revoke"
client_id = "acme-client"
client_secret = "acme-secret"
"""
    (provider,) = config.load(write_providers(tmp_path, app_level))
    assert provider.offers_revocation

    message = problems_of(tmp_path, app_level + 'scope_words = { api = "Call the API" }\n')
    assert "scope_words: applies only to grant_type = 'authorization_code'" in message


def test_every_problem_is_reported_at_once_and_no_secret_is_echoed(tmp_path):
    text = f"""
[providers.one]
display_name = "One"
grant_type = "client_credentials"
token_url = "not a url"
client_id = "one"
client_secret = "{SECRET}"
client_secret_env = "ONE_SECRET"

[providers.two]
display_name = "Two"
grant_type = "client_credentials"
token_url = "https://two.test/token"
client_id = "two"
client_secret = ["{SECRET}"]
"""
    message = problems_of(tmp_path, text)

    assert "provider 'one': token_url: must be an absolute http(s) URL" in message
    assert "provider 'one': client_secret: give client_secret or client_secret_env" in message
    assert "provider 'two': client_secret: must be a non-empty string" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[providers.acme\n", "not valid TOML"),
        ('title = "x"\n', "unknown top-level key(s) title"),
        ("providers = 3\n", "providers must be tables"),
        ("[providers]\nacme = 1\n", "must be a table of fields"),
    ],
)
def test_a_file_that_is_not_a_providers_file_says_so(tmp_path, text, problem):
    assert problem in problems_of(tmp_path, text)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ImproperlyConfigured, match=r"nowhere\.toml does not exist"):
        config.load(tmp_path / "nowhere.toml")


def test_configured_scope_words_are_shown_on_the_connections_page(use_providers, signed_in):
    use_providers(
        PER_USER,
        """scopes = ["openid", "recipes:read", "recipes:write", "pantry"]

[providers.acme.scope_words]
openid = "Know which Acme cook you are"
"recipes:read" = "See your saved recipes"
"recipes:write" = "Save & change your recipes"
""",
    )

    page = signed_in.get("/connections/").content.decode()

    assert registry.get("acme").permissions() == [
        "Know which Acme cook you are",
        "See your saved recipes",
        "Save & change your recipes",
        "pantry",
    ]
    assert "Know which Acme cook you are" in page
    assert "See your saved recipes" in page
    assert "Save &amp; change your recipes" in page
    assert "Confirm who you are" not in page


def test_the_registry_serves_configured_providers_by_name(use_providers):
    use_providers(PER_USER, (EXAMPLES / "alternative-payments.toml").read_text())

    assert registry.get("acme").display_name == "Acme"
    assert registry.get("alternative-payments").app_level
    assert [p.name for p in registry.user_providers()] == ["discogs", "pinterest", "acme"]
    assert [p.name for p in registry.app_providers()] == ["alternative-payments"]
    assert registry.get("acme") is registry.get("acme")
    with pytest.raises(UnknownProvider):
        registry.get("nobody")


def test_manage_py_stops_with_the_problem_and_no_traceback(tmp_path):
    path = write_providers(tmp_path, PER_USER.replace("Acme", ""))
    env = {**os.environ, "DEBUG": "true", "CONNECTAPP_PROVIDERS_FILE": str(path)}

    result = run_python("manage.py", "check", env=env)

    assert result.returncode == 1
    assert "connectapp.E004" in result.stderr
    assert f"{path}: provider 'acme': display_name: must be a non-empty string" in result.stderr
    assert "Traceback" not in result.stderr


def _answer(status: int, body: bytes) -> requests.Response:
    """A token endpoint answer as `requests` hands it over."""
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers["Content-Type"] = "application/json"
    return response


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (
            400,
            b'{"error": "invalid_scope", "error_description": "No such scope"}',
            AccessRevoked,
            "invalid_scope: No such scope",
        ),
        (
            403,
            b'{"meta": {}, "errors": [{"httpcode": 403, "message": "Client is disabled"}]}',
            AccessRevoked,
            "HTTP 403: Client is disabled",
        ),
        (
            400,
            b'{"code": 2, "message": "Authentication failed."}',
            AccessRevoked,
            r"Authentication failed\. \(code 2\)",
        ),
        (
            401,
            b'{"error": "invalid_client"}',
            ProviderUnavailable,
            "refused this site's app credentials",
        ),
    ],
)
def test_token_error_bodies_of_any_shape_become_readable_messages(
    tmp_path, status, body, error, message
):
    (provider,) = config.load(EXAMPLES / "alternative-payments.toml")

    with pytest.raises(error, match=message):
        provider._check_token_response(_answer(status, body))


#: The per-user example above, as a host site writes it in its settings.
PER_USER_SETTING = {
    "acme": {
        "display_name": "Acme",
        "authorize_url": "https://id.acme.test/authorize",
        "token_url": "https://id.acme.test/token",
        "userinfo_url": "https://api.acme.test/me",
        "client_id": "acme-client",
        "client_secret": "acme-secret",
        "scopes": ["profile"],
    }
}


def test_providers_described_in_settings_are_served_like_the_files(settings):
    settings.CONNECTAPP_PROVIDERS = PER_USER_SETTING

    provider = registry.get("acme")

    assert type(provider) is OAuth2Provider
    assert (provider.display_name, provider.client_id, provider.scopes()) == (
        "Acme",
        "acme-client",
        ["profile"],
    )
    assert [p.name for p in registry.user_providers()] == ["discogs", "pinterest", "acme"]
    settings.CONNECTAPP_PROVIDERS = {}
    with pytest.raises(UnknownProvider):
        registry.get("acme")


def test_a_provider_in_settings_may_not_take_a_name_already_served(settings, tmp_path):
    settings.CONNECTAPP_PROVIDERS_FILE = str(write_providers(tmp_path, PER_USER))
    settings.CONNECTAPP_PROVIDERS = {
        "acme": PER_USER_SETTING["acme"],
        "pinterest": PER_USER_SETTING["acme"],
    }

    errors = checks.check_providers_file()

    assert [error.id for error in errors] == ["connectapp.E004"]
    assert "CONNECTAPP_PROVIDERS: provider 'acme': (name)" in errors[0].msg
    assert "CONNECTAPP_PROVIDERS: provider 'pinterest': (name)" in errors[0].msg


def test_a_mistake_in_settings_names_the_setting_the_provider_and_the_field(settings):
    broken = {**PER_USER_SETTING["acme"], "token_url": "ftp://id.acme.test/token"}
    del broken["client_secret"]
    settings.CONNECTAPP_PROVIDERS = {"acme": broken, "beta": "not a table"}

    (error,) = checks.check_providers_file()

    assert "CONNECTAPP_PROVIDERS: provider 'acme': token_url:" in error.msg
    assert "CONNECTAPP_PROVIDERS: provider 'acme': client_secret" in error.msg
    assert "CONNECTAPP_PROVIDERS: provider 'beta': (table)" in error.msg
    assert "acme-secret" not in error.msg


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (["acme"], "must be a dict of providers by name"),
        ({"acme": {"scopes": {1, 2}}}, "must hold only strings, numbers"),
    ],
)
def test_a_providers_setting_of_the_wrong_kind_says_so(settings, value, problem):
    settings.CONNECTAPP_PROVIDERS = value

    (error,) = checks.check_providers_file()

    assert problem in error.msg
