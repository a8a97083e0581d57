"""Credentials for the deploying site's code: a valid token, or a session that carries it."""

import warnings

import requests
from django.utils import timezone

from connectapp.exceptions import AccessRevoked, ProviderUnavailable
from connectapp.providers import registry

from ..models import LinkedAccount
from .app_tokens import app_access_token, app_session
from .refresh import ACCESS_TOKEN_MARGIN, refresh

Status = LinkedAccount.Status


def _warn_app_name(function: str, replacement: str) -> None:
    warnings.warn(
        f"{function}(provider_name) is deprecated; call {replacement}(provider_name) instead",
        DeprecationWarning,
        stacklevel=3,
    )


def get_access_token(link: LinkedAccount) -> str:
    """Return a valid access token for the link, refreshed first when it is about to expire.

    For the deploying site's code. `link` is reloaded from the database. The refresh runs
    under the link's row lock, so any number of concurrent callers cause one token request.
    Raises `AccessRevoked` when the link's user has to reconnect, and `ProviderUnavailable`
    only when the token has run out and the provider cannot renew it now (a token that is
    merely close to its expiry is still handed out during an outage).

    Given a provider's name (deprecated), the site's own token: see `app_access_token`.
    """
    if isinstance(link, str):
        _warn_app_name("get_access_token", "app_access_token")
        return app_access_token(link)
    link.refresh_from_db()
    if link.status != Status.ACTIVE:
        raise AccessRevoked(f"{link} is {link.get_status_display().lower()}")
    if link.is_due(ACCESS_TOKEN_MARGIN):
        try:
            refresh(link.pk, actor="on-demand", within=ACCESS_TOKEN_MARGIN)
        except ProviderUnavailable:
            if link.expires_at <= timezone.now():
                raise
        link.refresh_from_db()
        if link.status != Status.ACTIVE:
            raise AccessRevoked(f"{link} needs to be reconnected")
    return link.access_token


def authorized_session(link: LinkedAccount) -> requests.Session:
    """Return a `requests` session that signs (OAuth 1.0a) or authorizes (Bearer) every request
    with the link's credentials.

    Given a provider's name (deprecated), the site's own session: see `app_session`.
    """
    if isinstance(link, str):
        _warn_app_name("authorized_session", "app_session")
        return app_session(link)
    provider = registry.get(link.provider)
    if provider.supports_refresh:
        get_access_token(link)
    else:
        link.refresh_from_db()  # a disconnect since the caller read it forgot the tokens
    if link.status != Status.ACTIVE:
        raise AccessRevoked(f"{link} is {link.get_status_display().lower()}")
    return provider.session(link.token_set())
