"""Pinterest: OAuth 2.0 authorization code, HTTP Basic client authentication, refresh tokens.

Everything that differs from plain OAuth 2.0 is here: comma-joined scopes, where the
endpoints are, and asking for continuous refresh (a new refresh token with every refresh, so
a link that is refreshed in time never reaches its refresh token's expiry).
"""

from django.utils.translation import gettext_lazy as _

from connectapp import conf

from .oauth2 import OAuth2Provider


class Pinterest(OAuth2Provider):
    name = "pinterest"
    display_name = "Pinterest"
    description = _("See your Pinterest profile.")
    scope_words = {
        "user_accounts:read": _("See your Pinterest profile"),
        "boards:read": _("See your public boards"),
        "boards:read_secret": _("See your secret boards"),
        "boards:write": _("Create, change and delete your public boards"),
        "boards:write_secret": _("Create, change and delete your secret boards"),
        "pins:read": _("See your public Pins"),
        "pins:read_secret": _("See your secret Pins"),
        "pins:write": _("Create, change and delete your public Pins"),
        "pins:write_secret": _("Create, change and delete your secret Pins"),
        "ads:read": _("See your ads and their results"),
        "ads:write": _("Create and manage your ads"),
        "catalogs:read": _("See your product catalogs"),
        "catalogs:write": _("Create and manage your product catalogs"),
        "biz_access:read": _("See who has access to your business accounts"),
        "biz_access:write": _("Manage who has access to your business accounts"),
    }
    scope_separator = ","
    token_endpoint_auth_method = "client_secret_basic"
    use_pkce = True
    refresh_params = {"continuous_refresh": "true"}
    id_fields = ("id",)
    username_fields = ("username",)

    @property
    def client_id(self) -> str:
        return conf.value("PINTEREST_CLIENT_ID")

    @property
    def client_secret(self) -> str:
        return conf.value("PINTEREST_CLIENT_SECRET")

    @property
    def authorize_url(self) -> str:
        return conf.value("PINTEREST_AUTHORIZE_URL")

    @property
    def api_base_url(self) -> str:
        return conf.value("PINTEREST_API_URL").rstrip("/")

    @property
    def token_url(self) -> str:
        return f"{self.api_base_url}/oauth/token"

    @property
    def userinfo_url(self) -> str:
        return f"{self.api_base_url}/user_account"

    def scopes(self) -> list[str]:
        return list(conf.value("PINTEREST_SCOPES"))
