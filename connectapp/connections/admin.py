"""Django admin for links, their history, and webhook endpoints and deliveries.

Admins find and inspect links here and act on them through the same `services` the workers
use; nothing in this module writes a link itself. Secrets never reach a page: list queries
leave the encrypted columns unread, and the detail page shows only whether each secret is
present, with a keyed fingerprint.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from connectapp import conf
from connectapp.exceptions import (
    DecryptionError,
    InvalidEndpoint,
    ProviderError,
    UnknownProvider,
)
from connectapp.providers import registry

from . import crypto, selectors, services
from .models import (
    SECRET_FIELDS,
    ApiKey,
    ApiUsage,
    ConnectionEvent,
    DeliveryAttempt,
    LinkedAccount,
    WebhookDelivery,
    WebhookEndpoint,
)
from .services import RefreshOutcome, VerifyOutcome, apikeys, webhooks
from .services import events as link_events

Status = LinkedAccount.Status

#: How many of a link's events its detail page shows; the rest are one click away.
HISTORY_ON_DETAIL_PAGE = 50
#: How many failed or skipped links one admin message names before summarising the rest.
NAMED_IN_MESSAGE = 20
#: Why an action left a link alone, by the link's status.
STATE_PHRASES = {
    Status.ACTIVE: _("it is active"),
    Status.NEEDS_RECONNECT: _("it already needs reconnect"),
    Status.REVOKED: _("it is disconnected"),
    Status.ERROR: _("it is in error"),
}
DEFAULT_RECONNECT_REASON = _("An administrator asked for this link to be connected again.")
#: The secrets' names as the detail page says them.
SECRET_LABELS = {
    "access_token": _("access token"),
    "token_secret": _("token secret"),
    "refresh_token": _("refresh token"),
}


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


def user_lookups(prefix: str) -> tuple[str, ...]:
    """Return search lookups for the user's username and email field, under `prefix`.

    Whatever user model the site uses: its `USERNAME_FIELD`, and its email field where it has
    one (a custom user model may have neither a `username` nor an `email`)."""
    user_model = get_user_model()
    names = dict.fromkeys([user_model.USERNAME_FIELD, user_model.get_email_field_name()])
    lookups = []
    for name in names:
        try:
            user_model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        lookups.append(f"{prefix}{name}")
    return tuple(lookups)


def _action_description(action) -> str:
    """Return the description of an action from `ModelAdmin.get_actions`: an attribute of
    Django 6.1's `Action`, which deprecates reading it as item 2 of 5.2's tuple."""
    return action.description if hasattr(action, "description") else action[2]


def _display_name(provider_name: str) -> str:
    try:
        return registry.get(provider_name).display_name
    except UnknownProvider:
        return provider_name


class ProviderFilter(admin.SimpleListFilter):
    """Providers from the registry, with their display names, without a query."""

    title = _("provider")
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        return [(provider.name, provider.display_name) for provider in registry.every_provider()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(provider=self.value())
        return queryset


class OwnerFilter(admin.SimpleListFilter):
    """Users' links, or this site's own app-level (client credentials) connections."""

    title = _("owner")
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        return [("users", _("Users")), ("app", _("This site (app-level)"))]

    def queryset(self, request, queryset):
        if self.value() == "users":
            return queryset.filter(user__isnull=False)
        if self.value() == "app":
            return queryset.filter(user__isnull=True)
        return queryset


class ExpiryFilter(admin.SimpleListFilter):
    """Live links by when their access token expires (links whose tokens never expire: none)."""

    title = _("access token expiry")
    parameter_name = "expiring"

    def lookups(self, request, model_admin):
        return [
            ("expired", _("Expired")),
            ("24h", _("Expiring within 24 hours")),
            ("soon", _("Expiring soon (due for a refresh)")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        live = queryset.live()
        if self.value() == "expired":
            return live.filter(expires_at__lt=now)
        if self.value() == "24h":
            return live.filter(expires_at__gte=now, expires_at__lte=now + timedelta(hours=24))
        if self.value() == "soon":
            return queryset.due(conf.value("REFRESH_WINDOW_SECONDS")).filter(expires_at__gte=now)
        return queryset


@dataclass
class ActionResults:
    """What one admin action did to each selected link, for the message shown afterwards."""

    verb: str
    succeeded: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def fail(self, link: LinkedAccount, reason: str) -> None:
        self.failed.append(f"{_label(link)}: {reason}")

    def skip(self, link: LinkedAccount, reason: str) -> None:
        self.skipped.append(f"{_label(link)}: {reason}")

    def report(self, request: HttpRequest) -> None:
        if self.succeeded or not (self.failed or self.skipped):
            messages.success(
                request,
                ngettext(
                    "%(action)s: %(count)d link succeeded.",
                    "%(action)s: %(count)d links succeeded.",
                    self.succeeded,
                )
                % {"action": self.verb, "count": self.succeeded},
            )
        if self.failed:
            messages.error(
                request,
                ngettext(
                    "%(action)s: %(count)d link failed — %(links)s",
                    "%(action)s: %(count)d links failed — %(links)s",
                    len(self.failed),
                )
                % {"action": self.verb, "count": len(self.failed), "links": _named(self.failed)},
            )
        if self.skipped:
            messages.warning(
                request,
                ngettext(
                    "%(action)s: %(count)d link skipped — %(links)s",
                    "%(action)s: %(count)d links skipped — %(links)s",
                    len(self.skipped),
                )
                % {
                    "action": self.verb,
                    "count": len(self.skipped),
                    "links": _named(self.skipped),
                },
            )


def _label(link: LinkedAccount) -> str:
    return f"{link} (#{link.pk})"


def _named(lines: list[str]) -> str:
    shown = "; ".join(lines[:NAMED_IN_MESSAGE])
    hidden = len(lines) - NAMED_IN_MESSAGE
    if hidden > 0:
        return gettext("%(links)s; and %(count)d more.") % {"links": shown, "count": hidden}
    return f"{shown}."


def _last_error(link: LinkedAccount) -> str:
    """Why the provider refused, as the service recorded it on the link."""
    reason = LinkedAccount.objects.filter(pk=link.pk).values_list("last_error", flat=True)
    return gettext("refused by the provider (%(reason)s), now needs reconnect") % {
        "reason": reason.first() or gettext("no reason given")
    }


def _error_reason(link: LinkedAccount) -> str:
    """Why the service put the link in error, as it recorded it on the link."""
    return LinkedAccount.objects.filter(pk=link.pk).values_list("last_error", flat=True).get()


def _unusable_provider(link: LinkedAccount) -> str:
    """Why the link's provider cannot be asked at all ("" when it can): no request is sent."""
    try:
        provider = registry.get(link.provider)
    except UnknownProvider:
        return gettext("no provider named %(provider)s is configured") % {"provider": link.provider}
    if not provider.configured:
        return gettext("%(provider)s is not configured on this site") % {
            "provider": provider.display_name
        }
    return ""


def _apply(
    link: LinkedAccount, results: ActionResults, run: Callable[[], str], done: tuple[str, ...]
) -> str | None:
    """Run one service on a link and count how it went; return the outcome left to explain."""
    if reason := _unusable_provider(link):
        results.skip(link, reason)
        return None
    try:
        outcome = run()
    except ProviderError as problem:
        results.fail(link, str(problem))
        return None
    if outcome in done:
        results.succeeded += 1
    elif outcome == RefreshOutcome.NEEDS_RECONNECT:
        results.fail(link, _last_error(link))
    elif outcome == RefreshOutcome.ERROR:
        results.fail(link, _error_reason(link))
    elif outcome == RefreshOutcome.GONE:
        results.skip(link, gettext("it no longer exists"))
    else:
        return outcome
    return None


def _refresh_one(link: LinkedAccount, results: ActionResults, actor: str) -> None:
    run = partial(services.refresh, link.pk, actor=actor, force=True)
    done = (RefreshOutcome.REFRESHED, RefreshOutcome.ALREADY_REFRESHED)
    if _apply(link, results, run, done) is None:
        return
    if link.status != Status.ACTIVE:
        results.skip(link, str(STATE_PHRASES[link.status]))
    else:
        results.skip(
            link,
            gettext("%(provider)s tokens do not expire")
            % {"provider": _display_name(link.provider)},
        )


def _verify_one(link: LinkedAccount, results: ActionResults, actor: str) -> None:
    run = partial(services.verify, link.pk, actor=actor)
    if _apply(link, results, run, (VerifyOutcome.VERIFIED,)) is None:
        return
    if link.status == Status.REVOKED:
        results.skip(link, str(STATE_PHRASES[Status.REVOKED]))
    else:
        results.skip(link, gettext("its credentials changed while it was being checked"))


def _why_not_marked(link: LinkedAccount) -> str:
    if link.status in (Status.NEEDS_RECONNECT, Status.REVOKED):
        return str(STATE_PHRASES[link.status])
    return gettext("it changed meanwhile; see its history")


@admin.register(LinkedAccount)
class LinkedAccountAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "user",
        "provider_name",
        "username",
        "external_id",
        "status",
        "expires_at",
        "last_refreshed_at",
        "last_verified_at",
        "short_last_error",
    )
    list_filter = (ProviderFilter, OwnerFilter, "status", ExpiryFilter)
    list_select_related = ("user",)
    list_per_page = 100
    search_help_text = _("Local username or email, external username or external id.")
    date_hierarchy = "created_at"
    actions = ("refresh_now", "verify_now", "disconnect_links", "mark_needs_reconnect")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "user",
                    "provider",
                    "username",
                    "external_id",
                    "status",
                    "scopes",
                    "created_at",
                    "updated_at",
                )
            },
        ),
        (
            _("Credentials"),
            {
                "fields": (
                    "credentials",
                    "expires_at",
                    "refresh_expires_at",
                    "last_refreshed_at",
                    "last_verified_at",
                )
            },
        ),
        (_("Last error"), {"fields": ("last_error", "last_error_at")}),
        (_("History"), {"fields": ("event_history",)}),
    )
    readonly_fields = tuple(name for _title, options in fieldsets for name in options["fields"])

    def get_queryset(self, request: HttpRequest) -> QuerySet[LinkedAccount]:
        return super().get_queryset(request).defer(*SECRET_FIELDS)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return (*user_lookups("user__"), "username", "external_id")

    # --- Permissions ------------------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Links are made by their owners' connection flows, never by hand."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: LinkedAccount | None = None):
        """A link changes only through the actions (the services), so its page is read-only."""
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: LinkedAccount | None = None):
        """Disconnecting keeps a link's history; deleting would lose it and revoke nothing."""
        return False

    def has_disconnect_permission(self, request: HttpRequest) -> bool:
        return super().has_change_permission(request) and request.user.has_perm(
            "connections.disconnect_linkedaccount"
        )

    # --- Columns and fields -----------------------------------------------------------------

    @admin.display(description=_("provider"), ordering="provider")
    def provider_name(self, obj: LinkedAccount) -> str:
        return _display_name(obj.provider)

    @admin.display(description=_("last error"), ordering="last_error_at")
    def short_last_error(self, obj: LinkedAccount) -> str:
        return Truncator(obj.last_error).chars(80)

    @admin.display(description=_("Secrets"))
    def credentials(self, obj: LinkedAccount) -> str:
        """Whether each secret is present, with a keyed fingerprint; never the secret."""
        try:
            stored = LinkedAccount.objects.filter(pk=obj.pk).values(*SECRET_FIELDS).first() or {}
        except DecryptionError:
            return gettext("stored, but no key in TOKEN_ENCRYPTION_KEYS decrypts them")
        parts = []
        for name in SECRET_FIELDS:
            value = stored.get(name)
            parts.append(
                gettext("%(secret)s: present (fingerprint %(fingerprint)s)")
                % {"secret": SECRET_LABELS[name], "fingerprint": crypto.fingerprint(value)}
                if value
                else gettext("%(secret)s: absent") % {"secret": SECRET_LABELS[name]}
            )
        return "; ".join(parts)

    @admin.display(description=_("Events, newest first"))
    def event_history(self, obj: LinkedAccount) -> str:
        events = list(obj.events.order_by("-created_at", "-pk")[:HISTORY_ON_DETAIL_PAGE])
        if not events:
            return gettext("No events yet.")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    date_format(timezone.localtime(event.created_at), "DATETIME_FORMAT"),
                    event.get_kind_display(),
                    event.get_outcome_display(),
                    event.actor,
                    event.detail,
                )
                for event in events
            ),
        )
        everything = (
            reverse("admin:connections_connectionevent_changelist")
            + f"?account__id__exact={obj.pk}"
        )
        return format_html(
            '<table class="link-history"><thead><tr><th>{}</th><th>{}</th><th>{}</th>'
            "<th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}">{}</a></p>',
            gettext("When"),
            gettext("What"),
            gettext("Outcome"),
            gettext("Who"),
            gettext("Detail"),
            rows,
            everything,
            gettext("All events of this link"),
        )

    # --- Pages ------------------------------------------------------------------------------

    def changelist_view(self, request: HttpRequest, extra_context=None):
        context = {"overview": selectors.link_overview(), "statuses": Status.choices}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        """The detail page offers the actions this admin may take, as buttons."""
        available = self.get_actions(request)
        context = {
            "link_actions": [
                (name, _action_description(available[name]))
                for name in self.actions
                if name in available
            ]
        }
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    def _confirm(
        self, request: HttpRequest, queryset: QuerySet[LinkedAccount], action: str, **context
    ) -> TemplateResponse:
        opts = self.model._meta
        return TemplateResponse(
            request,
            "admin/connections/linkedaccount/action_confirmation.html",
            {
                **self.admin_site.each_context(request),
                "opts": opts,
                "app_label": opts.app_label,
                "action": action,
                "links": list(queryset),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "media": self.media,
                **context,
            },
        )

    # --- Actions: each calls a service per link and reports per link -------------------------

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[LinkedAccount],
        verb: str,
        act: Callable[[LinkedAccount, ActionResults, str], None],
    ) -> None:
        results = ActionResults(verb)
        for link in list(queryset.order_by("pk")):
            act(link, results, _actor(request))
        results.report(request)

    @admin.action(description=_("Refresh the access token now"), permissions=["change"])
    def refresh_now(self, request: HttpRequest, queryset: QuerySet[LinkedAccount]) -> None:
        self._each(request, queryset, gettext("Refresh"), _refresh_one)

    @admin.action(description=_("Verify with the provider now"), permissions=["change"])
    def verify_now(self, request: HttpRequest, queryset: QuerySet[LinkedAccount]) -> None:
        self._each(request, queryset, gettext("Verify"), _verify_one)

    @admin.action(
        description=_("Disconnect (forget here, revoke at the provider where it can)"),
        permissions=["disconnect"],
    )
    def disconnect_links(
        self, request: HttpRequest, queryset: QuerySet[LinkedAccount]
    ) -> HttpResponse | None:
        return self._each_confirmed(
            request,
            queryset,
            "disconnect_links",
            gettext("Disconnect"),
            lambda link_id, actor: services.disconnect(link_id, actor=actor),
            lambda link: gettext("it was already disconnected"),
            title=gettext("Disconnect links?"),
            explanation=gettext(
                "Their tokens are forgotten here and revoked at the provider where it "
                "offers that. Each owner has to connect again to use the link. The links "
                "and their history are kept."
            ),
            confirm=gettext("Yes, disconnect"),
        )

    @admin.action(description=_("Mark as needing reconnect"), permissions=["change"])
    def mark_needs_reconnect(
        self, request: HttpRequest, queryset: QuerySet[LinkedAccount]
    ) -> HttpResponse | None:
        reason = request.POST.get("reason", "").strip()[:500] or str(DEFAULT_RECONNECT_REASON)
        return self._each_confirmed(
            request,
            queryset,
            "mark_needs_reconnect",
            gettext("Mark as needing reconnect"),
            lambda link_id, actor: services.mark_needs_reconnect(link_id, reason, actor=actor),
            _why_not_marked,
            title=gettext("Mark links as needing reconnect?"),
            explanation=gettext(
                "Their owners are told to connect again; workers stop refreshing them "
                "until they do. The reason is shown in the link's history."
            ),
            confirm=gettext("Yes, mark them"),
            ask_reason=True,
            default_reason=DEFAULT_RECONNECT_REASON,
        )

    def _each_confirmed(
        self,
        request: HttpRequest,
        queryset: QuerySet[LinkedAccount],
        action: str,
        verb: str,
        change: Callable[[int, str], bool],
        why_not: Callable[[LinkedAccount], str],
        **page,
    ) -> HttpResponse | None:
        """Return the confirmation page until the action is confirmed; then `change` each link
        (by id, as the acting admin) and report a link it did not change with `why_not`."""
        if request.POST.get("post") != "yes":
            return self._confirm(request, queryset, action, **page)

        def change_one(link: LinkedAccount, results: ActionResults, actor: str) -> None:
            if change(link.pk, actor):
                results.succeeded += 1
            else:
                results.skip(link, why_not(link))

        self._each(request, queryset, verb, change_one)
        return None


class RecentFilter(admin.SimpleListFilter):
    title = _("when")
    parameter_name = "within"
    periods = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}

    def lookups(self, request, model_admin):
        return [("24h", _("Last 24 hours")), ("7d", _("Last 7 days")), ("30d", _("Last 30 days"))]

    def queryset(self, request, queryset):
        if self.value() in self.periods:
            return queryset.filter(created_at__gte=timezone.now() - self.periods[self.value()])
        return queryset


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record nobody adds, changes or deletes by hand (the history, the deliveries)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ConnectionEvent)
class ConnectionEventAdmin(ReadOnlyAdmin):
    """The history of every link: read-only, and kept (events are the audit trail)."""

    list_display = (
        "created_at",
        "account",
        "kind",
        "outcome",
        "announced_as",
        "actor",
        "short_detail",
    )
    list_filter = (RecentFilter, "kind", "outcome", "announcement__type")
    list_select_related = ("account", "announcement")
    date_hierarchy = "created_at"
    fields = ("account", "kind", "outcome", "detail", "actor", "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConnectionEvent]:
        return super().get_queryset(request).defer(*(f"account__{name}" for name in SECRET_FIELDS))

    @admin.display(description=_("event type"), ordering="announcement__type")
    def announced_as(self, obj: ConnectionEvent) -> str:
        announcement = getattr(obj, "announcement", None)
        return announcement.type if announcement is not None else "-"

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        lookups = ("account__username", "account__external_id", *user_lookups("account__user__"))
        return (*lookups, "actor", "detail")

    @admin.display(description=_("detail"))
    def short_detail(self, obj: ConnectionEvent) -> str:
        return Truncator(obj.detail).chars(80)


# --- The backend API: keys and what they used ------------------------------------------------


class ApiKeyForm(forms.ModelForm):
    """A new key's name, scopes and providers; the key itself is made by the service."""

    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple
    )
    providers = forms.MultipleChoiceField(
        choices=(), required=False, widget=forms.CheckboxSelectMultiple, help_text=_("none: all")
    )

    class Meta:
        model = ApiKey
        fields = ("name", "scopes", "providers")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["providers"].choices = [
            (provider.name, provider.display_name) for provider in registry.every_provider()
        ]


class ApiUsageInline(admin.TabularInline):
    model = ApiUsage
    fields = ("account", "kind", "count", "last_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiUsage]:
        return super().get_queryset(request).defer(*(f"account__{name}" for name in SECRET_FIELDS))


# --- Webhooks -------------------------------------------------------------------------------


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=[(name, name) for name in link_events.EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("none ticked: every event type"),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "events", "is_active")

    def clean_url(self) -> str:
        try:
            return webhooks.check_url(self.cleaned_data["url"])
        except InvalidEndpoint as problem:
            raise forms.ValidationError(str(problem)) from None


def _enabled_message(waiting: int) -> str:
    """Return what enabling endpoints did: how many waiting deliveries were sent again."""
    return ngettext(
        "Enabled; %(count)d waiting delivery sent again.",
        "Enabled; %(count)d waiting deliveries sent again.",
        waiting,
    ) % {"count": waiting}


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Endpoints: the secret is made here, shown once on the page after adding, never again."""

    form = WebhookEndpointForm
    list_display = ("url", "is_active", "event_types", "failing_since", "disabled_at")
    list_filter = ("is_active",)
    readonly_fields = ("failing_since", "disabled_at", "created_at")
    actions = ("send_test_event", "enable_endpoints")

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        return super().get_queryset(request).defer("secret")

    @admin.display(description=_("events"))
    def event_types(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events) or gettext("all")

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        turned_on = change and "is_active" in form.changed_data and obj.is_active
        if not change:
            obj.secret = request._webhook_secret = webhooks.new_secret()
        super().save_model(request, obj, form, change)
        if turned_on:
            self.message_user(request, _enabled_message(webhooks.enable_endpoint(obj.pk)))

    def response_add(self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue=None):
        """Show the new secret on this response only: it is stored in no message or session."""
        return TemplateResponse(
            request,
            "admin/connections/webhookendpoint/secret.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "endpoint": obj,
                "secret": request._webhook_secret,
            },
        )

    @admin.action(description=_("Send a test event"), permissions=["change"])
    def send_test_event(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            webhooks.send_test(endpoint.pk, actor=_actor(request))
        count = queryset.count()
        self.message_user(
            request,
            ngettext(
                "A test event is on its way to %(count)d endpoint.",
                "A test event is on its way to %(count)d endpoints.",
                count,
            )
            % {"count": count},
        )

    @admin.action(description=_("Enable, and deliver what waited"), permissions=["change"])
    def enable_endpoints(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        waiting = sum(webhooks.enable_endpoint(endpoint.pk) for endpoint in queryset)
        self.message_user(request, _enabled_message(waiting))


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("attempted_at", "status_code", "duration_ms", "error", "response_excerpt")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are made here (the key is shown once, on the page after saving) and revoked here;
    only a hash is stored, so a lost key is replaced, not recovered."""

    list_display = ("name", "prefix", "scope_list", "provider_list", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    inlines = [ApiUsageInline]
    actions = ["revoke_keys"]

    def get_inlines(self, request: HttpRequest, obj=None):
        return self.inlines if obj is not None else []

    def get_form(self, request: HttpRequest, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ("name", "scopes", "providers")
        return ("name", "prefix", "scopes", "providers", *self.readonly_fields[1:])

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ()
        return ("prefix", "scopes", "providers", "created_at", "last_used_at", "revoked_at")

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        made = apikeys.create_key(
            form.cleaned_data["name"], form.cleaned_data["scopes"], form.cleaned_data["providers"]
        )
        obj.pk = made.api_key.pk
        obj.prefix = made.api_key.prefix
        messages.warning(
            request,
            format_html(
                "{} <code>{}</code>",
                gettext("The new key, shown this once (only its hash is kept):"),
                made.key,
            ),
        )

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("scopes"))
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description=_("providers"))
    def provider_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.providers) or gettext("all")

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = sum(apikeys.revoke(key.pk) for key in queryset)
        self.message_user(
            request,
            ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", revoked)
            % {"count": revoked},
            messages.SUCCESS,
        )


@admin.register(ApiUsage)
class ApiUsageAdmin(admin.ModelAdmin):
    """How often each key read each link's credentials or called through the proxy."""

    list_display = ("key", "account", "kind", "count", "last_at")
    list_filter = ("kind", "key")
    list_select_related = ("key", "account")
    search_fields = ("key__name", "key__prefix", "account__username", "account__external_id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiUsage]:
        return super().get_queryset(request).defer(*(f"account__{name}" for name in SECRET_FIELDS))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Every delivery with its attempts; read-only but for "send again"."""

    list_display = (
        "created_at",
        "event_type",
        "webhook_id",
        "endpoint",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
    )
    list_filter = ("status", "event__type", "endpoint")
    list_select_related = ("event", "endpoint")
    search_fields = ("event__event_id", "endpoint__url")
    fields = (
        "event",
        "endpoint",
        "status",
        "attempt_count",
        "next_attempt_at",
        "last_status_code",
        "delivered_at",
        "created_at",
    )
    readonly_fields = fields
    inlines = (DeliveryAttemptInline,)
    actions = ("send_again",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        return super().get_queryset(request).defer("endpoint__secret")

    @admin.display(description=_("event type"), ordering="event__type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    # Translators: the name of the Standard Webhooks header that carries the event's id.
    @admin.display(description=_("webhook-id"))
    def webhook_id(self, obj: WebhookDelivery) -> str:
        return obj.event.event_id

    @admin.action(description=_("Send again (same webhook-id)"), permissions=["view"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            webhooks.redeliver(delivery.pk)
        count = queryset.count()
        self.message_user(
            request,
            ngettext("%(count)d delivery sent again.", "%(count)d deliveries sent again.", count)
            % {"count": count},
        )
