"""Who is calling: an API key as a Bearer token, counted against its rate limit, and the
scopes and providers it allows."""

from django.http import HttpRequest
from ninja.errors import Throttled
from ninja.security import HttpBearer

from ..models import ApiKey
from ..services import apikeys
from .problems import Problem


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer <api key>`; an unknown or revoked key is a 401."""

    openapi_description = "An API key made in admin or by `manage.py connections api-key create`."

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        """Return the caller's key; raise `Throttled` past its rate limit."""
        api_key = apikeys.authenticate(token.strip())
        if api_key is None:
            return None
        allowance = apikeys.take_request(api_key)
        if not allowance.allowed:
            raise Throttled(allowance.retry_after)
        return api_key


def require_scope(request: HttpRequest, scope: str) -> ApiKey:
    """Return the caller's key; a 403 problem unless it has `scope`."""
    api_key: ApiKey = request.auth
    if scope not in api_key.scopes:
        raise Problem(403, f"This key lacks the scope {scope}.", kind="missing-scope")
    return api_key
