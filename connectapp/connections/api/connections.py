"""`/connections`: list, read and disconnect links; hand out their credentials; proxy calls."""

import base64
import binascii
from urllib.parse import quote

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Query, Router, Schema

from connectapp.exceptions import AccessRevoked, ProviderUnavailable, ProxyRefused
from connectapp.providers import registry

from .. import services
from ..models import SECRET_FIELDS, ApiKey, ApiUsage, LinkedAccount
from ..services import apikeys
from ..services import proxy as proxying
from .auth import require_scope
from .problems import Problem
from .schemas import (
    DisconnectOut,
    LinkOut,
    LinkPage,
    OAuth1Credentials,
    OAuth2Credentials,
    ProblemOut,
)

router = Router(tags=["connections"])
Status = LinkedAccount.Status
PAGE_SIZE = 100
ERRORS = {code: ProblemOut for code in (401, 403, 404, 422, 429)}
#: Characters left as they are when the proxied path is quoted again for the provider.
PATH_SAFE = "/:@!$&'()*+,;=-._~"
Refusal = ProxyRefused.Reason
#: The status (and problem kind) the proxy answers with for each reason it cannot forward.
PROXY_REFUSAL = {
    Refusal.NO_API_BASE: (404, ""),
    Refusal.BAD_PATH: (400, ""),
    Refusal.METHOD_NOT_FORWARDED: (405, ""),
    Refusal.NEEDS_RECONNECT: (409, "needs-reconnect"),
    Refusal.RATE_LIMITED: (429, ""),
    Refusal.UNREACHABLE: (502, ""),
    Refusal.UNAVAILABLE: (503, ""),
    Refusal.TIMED_OUT: (504, ""),
}


class LinkFilters(Schema):
    provider: str | None = None
    status: Status | None = None
    user: str | None = None
    cursor: str | None = None


def _visible(api_key: ApiKey) -> QuerySet[LinkedAccount]:
    links = LinkedAccount.objects.defer(*SECRET_FIELDS).select_related(
        "user", "user__site_identity"
    )
    return links.filter(provider__in=api_key.providers) if api_key.providers else links


def _link_or_404(api_key: ApiKey, link_id: int, *, secrets: bool = False) -> LinkedAccount:
    links = LinkedAccount.objects.all() if secrets else _visible(api_key)
    account = links.filter(pk=link_id).first()
    if account is None or not api_key.allows_provider(account.provider):
        raise Problem(404, f"No link {link_id} this key may see.", kind="not-found")
    return account


def link_out(account: LinkedAccount) -> dict:
    """Return the link as the API shows it: the fields of `connections list --json`."""
    user = account.user
    site_identity = getattr(user, "site_identity", None) if user is not None else None
    return {
        "id": account.pk,
        "user": user.get_username() if user is not None else None,
        "site_user_id": site_identity.site_id if site_identity is not None else None,
        "provider": account.provider,
        "external_id": account.external_id,
        "username": account.username,
        "status": account.status,
        "scopes": account.scopes if isinstance(account.scopes, list) else [],
        "expires_at": account.expires_at,
        "refresh_expires_at": account.refresh_expires_at,
        "last_refreshed_at": account.last_refreshed_at,
        "last_verified_at": account.last_verified_at,
        "last_error": account.last_error,
        "created_at": account.created_at,
    }


def _cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def _after(cursor: str) -> int:
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not decoded.isascii() or not decoded.isdigit():
            raise ValueError(decoded)
        return int(decoded)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Problem(
            422, "This cursor is not one the API gave out.", kind="invalid-request"
        ) from None


@router.get("/connections", response={200: LinkPage, **ERRORS}, summary="List links")
def list_connections(request: HttpRequest, filters: Query[LinkFilters]) -> dict:
    """Links this key may see, oldest first, a page at a time (keyset on the id)."""
    api_key = require_scope(request, ApiKey.Scope.CONNECTIONS_READ)
    links = _visible(api_key).order_by("pk")
    if filters.provider:
        links = links.filter(provider=filters.provider)
    if filters.status:
        links = links.filter(status=filters.status)
    if filters.user:
        links = links.filter(user__site_identity__site_id=filters.user)
    if filters.cursor:
        links = links.filter(pk__gt=_after(filters.cursor))
    page = list(links[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    return {
        "items": [link_out(account) for account in page],
        "next": _cursor(page[-1].pk) if more else None,
    }


@router.get("/connections/{link_id}", response={200: LinkOut, **ERRORS}, summary="One link")
def get_connection(request: HttpRequest, link_id: int) -> dict:
    api_key = require_scope(request, ApiKey.Scope.CONNECTIONS_READ)
    return link_out(_link_or_404(api_key, link_id))


@router.delete(
    "/connections/{link_id}",
    response={200: DisconnectOut, **ERRORS},
    summary="Disconnect a link, revoking its tokens where the provider can",
)
def delete_connection(request: HttpRequest, link_id: int) -> dict:
    api_key = require_scope(request, ApiKey.Scope.CONNECTIONS_READ)
    account = _link_or_404(api_key, link_id)
    disconnected = services.disconnect(account.pk, actor=f"api:{api_key.prefix}")
    return {"id": account.pk, "status": Status.REVOKED, "disconnected": disconnected}


def _needs_reconnect(account: LinkedAccount, reason: str = "") -> Problem:
    reason = reason or account.last_error or f"the link is {account.get_status_display().lower()}"
    return Problem(409, f"The link needs reconnecting: {reason}", kind="needs-reconnect")


@router.get(
    "/connections/{link_id}/credentials",
    response={
        200: OAuth2Credentials | OAuth1Credentials,
        409: ProblemOut,
        503: ProblemOut,
        **ERRORS,
    },
    summary="A usable credential for the link, refreshed first when it is about to expire",
)
def get_credentials(request: HttpRequest, link_id: int, force_refresh: bool = False) -> dict:
    api_key = require_scope(request, ApiKey.Scope.CREDENTIALS_READ)
    account = _link_or_404(api_key, link_id, secrets=True)
    if account.status != Status.ACTIVE and not account.is_app_level:
        raise _needs_reconnect(account)
    provider = registry.get(account.provider)
    try:
        if account.is_app_level:
            if force_refresh:
                services.refresh(account.pk, actor=f"api:{api_key.prefix}", force=True)
            services.app_access_token(provider.name)
            account.refresh_from_db()
        elif provider.supports_refresh:
            if force_refresh:
                services.refresh(account.pk, actor=f"api:{api_key.prefix}", force=True)
            services.get_access_token(account)
    except AccessRevoked as refusal:
        raise _needs_reconnect(account, str(refusal)) from None
    except ProviderUnavailable as outage:
        raise Problem(
            503, str(outage), kind="provider-unavailable", retry_after=outage.retry_after
        ) from None
    if account.status != Status.ACTIVE:
        raise _needs_reconnect(account)
    apikeys.count_use(api_key, account, ApiUsage.Kind.CREDENTIALS)
    if provider.supports_refresh:
        answer = {
            "type": "oauth2",
            "access_token": account.access_token,
            "token_type": "Bearer",
            "expires_at": account.expires_at,
        }
        if ApiKey.Scope.CREDENTIALS_REFRESH_TOKEN in api_key.scopes and not account.is_app_level:
            answer["refresh_token"] = account.refresh_token or None
        return answer
    return {
        "type": "oauth1",
        "oauth_token": account.access_token,
        "oauth_token_secret": account.token_secret,
    }


@router.api_operation(
    ["GET", "POST", "PUT", "PATCH", "DELETE"],
    "/connections/{link_id}/proxy/{path:path}",
    summary="Forward a request to the provider's API with the link's auth",
)
def proxy(request: HttpRequest, link_id: int, path: str) -> HttpResponse:
    """The request goes to the provider's API base joined with `path`, with the link's auth.

    The caller's Authorization and cookies stay here; redirects are passed back, not followed.
    """
    api_key = require_scope(request, ApiKey.Scope.PROXY)
    account = _link_or_404(api_key, link_id, secrets=True)
    if account.status != Status.ACTIVE and not account.is_app_level:
        raise _needs_reconnect(account)
    try:
        answer = proxying.forward(
            account,
            request.method,
            quote(path, safe=PATH_SAFE),
            request.META.get("QUERY_STRING", ""),
            request.headers,
            request.body,
        )
    except ProxyRefused as refusal:
        status, kind = PROXY_REFUSAL[refusal.reason]
        raise Problem(status, str(refusal), kind=kind, retry_after=refusal.retry_after) from None
    apikeys.count_use(api_key, account, ApiUsage.Kind.PROXY)
    response = StreamingHttpResponse(answer.chunks(), status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    return response
