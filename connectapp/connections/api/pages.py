"""The page a connect session's URL opens: the person confirms, is signed in as the site's
user, and picks the account to connect; the normal connect flow does the rest."""

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from connectapp.exceptions import SessionRefused
from connectapp.providers import registry

from ..services import connect_sessions

BACKEND = "django.contrib.auth.backends.ModelBackend"


@never_cache
@require_http_methods(["GET", "POST"])
def connect_session(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows what the link is for and changes nothing (link previews do not use it up);
    POST uses the link once, signs the person in and offers the session's providers."""
    if request.method == "GET":
        session = connect_sessions.find(token)
        refusal = connect_sessions.refusal_of(session)
        if refusal is not None:
            return _refused(request, refusal)
        return render(
            request,
            "connectapp/connections/connect_session.html",
            {**_providers(session.providers), "confirm": True},
        )
    try:
        user, session = connect_sessions.open_session(token)
    except SessionRefused as refusal:
        return _refused(request, refusal)
    login(request, user, backend=BACKEND)
    connect_sessions.remember(request.session, session)
    return render(
        request,
        "connectapp/connections/connect_session.html",
        {**_providers(session.providers), "confirm": False},
    )


def _providers(names: list[str]) -> dict:
    providers = [registry.get(name) for name in names]
    return {"providers": providers, "provider_names": [p.display_name for p in providers]}


#: An unknown link is not found; a used or expired one is gone for good.
REFUSAL_STATUS = {
    SessionRefused.Reason.UNKNOWN: 404,
    SessionRefused.Reason.USED: 410,
    SessionRefused.Reason.EXPIRED: 410,
}


def _refused(request: HttpRequest, refusal: SessionRefused) -> HttpResponse:
    return render(
        request,
        "connectapp/connections/connect_session_refused.html",
        {"message": str(refusal)},
        status=REFUSAL_STATUS[refusal.reason],
    )
