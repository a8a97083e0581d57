"""`/connect-sessions`: a backend sends one of its users here to connect their accounts."""

from django.http import HttpRequest
from django.urls import reverse
from ninja import Router
from ninja.responses import Status

from connectapp import conf
from connectapp.exceptions import InvalidConnectSession

from ..models import ApiKey
from ..services import connect_sessions
from .auth import require_scope
from .problems import Problem
from .schemas import ConnectSessionIn, ConnectSessionOut, ProblemOut

router = Router(tags=["connect sessions"])


@router.post(
    "/connect-sessions",
    response={201: ConnectSessionOut, **{code: ProblemOut for code in (400, 401, 403, 422, 429)}},
    summary="A single-use URL where the site's user connects their accounts",
)
def create_connect_session(request: HttpRequest, payload: ConnectSessionIn) -> Status:
    """The URL signs the person in (as the local user kept for `user.id`), lets them connect
    the named providers, then sends them to `return_url` with `connectapp_outcome`,
    `provider` and `connection` added to its query."""
    api_key = require_scope(request, ApiKey.Scope.CONNECT_SESSIONS_WRITE)
    try:
        made = connect_sessions.create_session(
            api_key,
            site_id=payload.user.id,
            providers=payload.providers,
            return_url=payload.return_url,
            email=payload.user.email or "",
            display_name=payload.user.name or "",
        )
    except InvalidConnectSession as problem:
        raise Problem(422, str(problem), kind="invalid-request") from None
    path = reverse("connections:connect-session", args=[made.token])
    if public_url := conf.value("PUBLIC_URL"):
        url = public_url.rstrip("/") + path
    else:
        url = request.build_absolute_uri(path)
    return Status(201, {"url": url, "expires_at": made.session.expires_at})
