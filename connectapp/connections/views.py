import logging

from celery import current_app
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from connectapp import conf
from connectapp.exceptions import (
    AccessRevoked,
    AccountLinkedElsewhere,
    AppCredentialsRefused,
    FlowDeclined,
    FlowError,
    ProviderNotConfigured,
    ProviderUnavailable,
    TooManyStarts,
    UnknownProvider,
)
from connectapp.providers import registry

from . import selectors, services
from .infra import connect_limit
from .services import connect_sessions

logger = logging.getLogger(__name__)


def _provider_or_404(name: str):
    try:
        return registry.get(name)
    except UnknownProvider:
        raise Http404(_("No such provider")) from None


def _callback_url(request: HttpRequest, provider_name: str) -> str:
    path = reverse("connections:callback", args=[provider_name])
    if public_url := conf.value("PUBLIC_URL"):
        return public_url.rstrip("/") + path
    return request.build_absolute_uri(path)


#: The HTTP status of a flow that cannot go on; any other `FlowError` is a bad request.
FLOW_ERROR_STATUSES = (
    (AccountLinkedElsewhere, 409),
    (ProviderNotConfigured, 404),
    (AppCredentialsRefused, 502),
    (FlowDeclined, 200),
)


def flow_status(error: FlowError) -> int:
    """Return the HTTP status a page about `error` answers with."""
    return next((status for kind, status in FLOW_ERROR_STATUSES if isinstance(error, kind)), 400)


def _problem(request: HttpRequest, provider, message: str, status: int) -> HttpResponse:
    # A problem page may answer a provider's callback, whose query holds the authorization
    # code and state: a page that changes language returns to the connections page, never to
    # that URL (it would show the code in the page and replay it).
    return render(
        request,
        "connectapp/connections/problem.html",
        {
            "provider": provider,
            "message": message,
            "status": status,
            "return_path": reverse("connections:index"),
        },
        status=status,
    )


#: What the page says when the provider is unavailable at each step of a flow, and its status.
OUTAGE_PAGES = {
    "starting": (
        gettext_lazy("%(provider)s is unavailable right now. Please try again in a few minutes."),
        503,
    ),
    "completing": (
        gettext_lazy(
            "%(provider)s is unavailable right now, so the connection was not completed. "
            "Please try again in a few minutes."
        ),
        502,
    ),
}


def _outage(request: HttpRequest, provider, step: str, outage: ProviderUnavailable) -> HttpResponse:
    """Log that `step` of a flow failed because the provider is unavailable; return the page
    saying so."""
    logger.warning("%s a %s flow failed: %s", step, provider.name, outage)
    message, status = OUTAGE_PAGES[step]
    return _problem(request, provider, message % {"provider": provider.display_name}, status)


@login_required
@never_cache
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    cards = selectors.cards_for(request.user)
    attention = [(card, account) for card in cards for account in card.needing_attention]
    return render(
        request, "connectapp/connections/index.html", {"cards": cards, "attention": attention}
    )


@login_required
@require_POST
def connect(request: HttpRequest, provider: str) -> HttpResponse:
    chosen = _provider_or_404(provider)
    try:
        connect_limit.check_flow_start(request.user)
    except TooManyStarts as refusal:
        response = _problem(
            request,
            chosen,
            ngettext(
                "You started too many connections in a short time. "
                "Please wait %(seconds)d second and try again.",
                "You started too many connections in a short time. "
                "Please wait %(seconds)d seconds and try again.",
                refusal.retry_after,
            )
            % {"seconds": refusal.retry_after},
            429,
        )
        response["Retry-After"] = str(refusal.retry_after)
        return response
    try:
        url = services.begin_connect(
            request.session, request.user, chosen.name, _callback_url(request, chosen.name)
        )
    except FlowError as error:
        return _problem(request, chosen, str(error), flow_status(error))
    except ProviderUnavailable as outage:
        return _outage(request, chosen, "starting", outage)
    return redirect(url)


@login_required
@never_cache
@require_GET
def callback(request: HttpRequest, provider: str) -> HttpResponse:
    chosen = _provider_or_404(provider)
    try:
        link = services.complete_connect(
            request.session,
            request.user,
            chosen.name,
            request.GET,
            _callback_url(request, chosen.name),
        )
    except FlowDeclined:
        messages.info(
            request,
            _("You declined the connection at %(provider)s. Nothing was stored.")
            % {"provider": chosen.display_name},
        )
        back = connect_sessions.return_url_after(request.session, chosen.name, "declined")
        return redirect(back or "connections:index")
    except FlowError as error:
        return _problem(request, chosen, str(error), flow_status(error))
    except AccessRevoked as refusal:
        logger.info("a %s callback was refused by the provider: %s", chosen.name, refusal)
        return _problem(
            request,
            chosen,
            _(
                "%(provider)s did not accept this connection attempt (%(reason)s). "
                "Please start again."
            )
            % {"provider": chosen.display_name, "reason": refusal},
            400,
        )
    except ProviderUnavailable as outage:
        return _outage(request, chosen, "completing", outage)
    messages.success(
        request,
        _("Connected %(provider)s as %(username)s.")
        % {"provider": chosen.display_name, "username": link.username},
    )
    back = connect_sessions.return_url_after(request.session, chosen.name, "connected", link.pk)
    return redirect(back or "connections:index")


@login_required
@require_http_methods(["GET", "POST"])
def disconnect(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_object_or_404(selectors.accounts_for(request.user), pk=account_id)
    provider = _provider_or_404(account.provider)
    if request.method == "GET":
        return render(
            request,
            "connectapp/connections/disconnect.html",
            {"account": account, "provider": provider},
        )
    services.disconnect(account.pk, actor=f"user:{request.user.get_username()}")
    messages.success(
        request,
        _("Disconnected %(provider)s account %(username)s.")
        % {"provider": provider.display_name, "username": account.username},
    )
    return redirect("connections:index")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        logger.exception("health check: database")
        checks["database"] = "unavailable"
    # The broker of the site's own Celery app (the standalone project's, or a host's).
    broker_url = getattr(settings, "CELERY_BROKER_URL", "") or current_app.conf.broker_url or ""
    if not broker_url.startswith("filesystem://"):
        try:
            with current_app.connection_for_write(broker_url) as broker:
                broker.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            logger.warning("health check: broker unavailable")
            checks["broker"] = "unavailable"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )
