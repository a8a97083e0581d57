"""The API's request and answer shapes; the OpenAPI document is generated from them."""

from datetime import datetime
from typing import Literal

from ninja import Field, Schema


class ProblemOut(Schema):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str


class LinkOut(Schema):
    """A link, with the fields of `manage.py connections list --json`."""

    id: int
    user: str | None = Field(description="the local username; null for app-level links")
    site_user_id: str | None = Field(
        description="the deploying site's own id for the user, when a connect session made them"
    )
    provider: str
    external_id: str
    username: str
    status: Literal["active", "needs_reconnect", "revoked", "error"]
    scopes: list[str]
    expires_at: datetime | None
    refresh_expires_at: datetime | None
    last_refreshed_at: datetime | None
    last_verified_at: datetime | None
    last_error: str
    created_at: datetime


class LinkPage(Schema):
    items: list[LinkOut]
    next: str | None = Field(description="pass as `cursor` for the next page; null at the end")


class OAuth2Credentials(Schema):
    type: Literal["oauth2"]
    access_token: str
    token_type: str
    expires_at: datetime | None
    refresh_token: str | None = Field(
        None, description="only for keys with the credentials:refresh_token scope"
    )


class OAuth1Credentials(Schema):
    type: Literal["oauth1"]
    oauth_token: str
    oauth_token_secret: str


class DisconnectOut(Schema):
    id: int
    status: str
    disconnected: bool = Field(description="false when the link was already disconnected")


class SiteUserIn(Schema):
    id: str = Field(min_length=1, max_length=255, description="the site's own id for the user")
    email: str | None = Field(None, max_length=254)
    name: str | None = Field(None, max_length=150)


class ConnectSessionIn(Schema):
    user: SiteUserIn
    providers: list[str] = Field(min_length=1, max_length=20)
    return_url: str = Field(max_length=2000)


class ConnectSessionOut(Schema):
    url: str = Field(description="single-use; send the user's browser there")
    expires_at: datetime
