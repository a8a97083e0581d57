import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from connectapp.providers.base import TokenSet
from connectapp.redaction import provider_text

from .fields import EncryptedTextField

SECRET_FIELDS = ("access_token", "token_secret", "refresh_token")
#: What `LinkedAccount.mark_active` may change.
TOKEN_STATE_FIELDS = (
    *SECRET_FIELDS,
    "expires_at",
    "refresh_expires_at",
    "scopes",
    "status",
    "last_error",
    "last_error_at",
)


#: Links whose access token can be renewed before it expires: a user's link holding a refresh
#: token, or the site's own (a new client-credentials token renews it). Also as kept in a link's
#: `RefreshSchedule` (by the database's trigger, see `schedule`), so the sweep reads no link.
RENEWABLE = ~Q(refresh_token="") | Q(user=None)
RENEWABLE_SCHEDULE = Q(renewable=True)
#: Links with no refresh queued by the sweep.
WAITING = Q(schedule__queued_at__isnull=True)


def part_of(
    model: type[models.Model] | str,
    related_name: str,
    verbose_name: str | None = None,
    *,
    indexed: bool = True,
) -> models.ForeignKey:
    """Return a key to the row this one is part of: deleted with it, and listed on it as
    `related_name`. Not `indexed` where an index of the model's leads with the key."""
    return models.ForeignKey(
        model,
        on_delete=models.CASCADE,
        related_name=related_name,
        verbose_name=verbose_name,
        db_index=indexed,
    )


def names_or_all(verbose_name: str, help_text: str) -> models.JSONField:
    """Return a field listing the names (providers, event types) a row is limited to, where
    the empty list stands for every name; `includes` reads it."""
    return models.JSONField(verbose_name, default=list, blank=True, help_text=help_text)


def includes(names: list[str], name: str) -> bool:
    """Return whether a `names_or_all` list takes in `name`: it names it, or names none."""
    return not names or name in names


def including(field: str, name: str) -> Q:
    """Return `includes` as a condition on the `names_or_all` `field`, for the database to
    decide (PostgreSQL: SQLite cannot look into a JSON list)."""
    return Q(**{field: []}) | Q(**{f"{field}__contains": [name]})


class LinkQuerySet(models.QuerySet):
    """The words the services, selectors, admin and commands use to pick links."""

    def locked(self) -> "LinkQuerySet":
        """Return these links locked for update until the caller's transaction ends; only the
        links' rows, so their owners may be read in the same query (`select_related("user")`)
        without locking them too."""
        return self.select_for_update(of=("self",))

    def live(self) -> "LinkQuerySet":
        """Return the links not disconnected (a disconnected one keeps only its history)."""
        return self.exclude(status=LinkedAccount.Status.REVOKED)

    def due(self, window: timedelta) -> "LinkQuerySet":
        """Return the active links whose access token expires within `window`.

        The one definition of "due" for the sweep, `connections refresh --due`, the stats and
        the admin filter, read from the links' `RefreshSchedule` (its `due_at` is the expiry of
        an active link's token, and empty otherwise); `LinkedAccount.is_due` asks the same of a
        row in hand. A user's link without a refresh token cannot be renewed: it is due only
        once its access token has expired (its refresh then asks for a reconnect).
        """
        now = timezone.now()
        # One range of expiries, then the links whose refresh token lets them be renewed ahead;
        # said of the waiting links and of the queued ones apart, so PostgreSQL reads each half
        # from the schedule's partial index that holds it (`RefreshSchedule.Meta.indexes`).
        return self.filter(
            Q(schedule__due_at__lte=now + max(window, timedelta(0))),
            RENEWABLE | Q(schedule__due_at__lte=now),
            WAITING | Q(schedule__queued_at__isnull=False),
        )

    def unqueued(self) -> "LinkQuerySet":
        """Return the links with no refresh queued by the sweep."""
        return self.filter(WAITING)


class LinkedAccount(models.Model):
    """One account at a provider, linked to one local user, or this site's own app-level
    (client credentials) connection to a provider, which has no user.

    Tokens are written only by `services`; they are encrypted in the database and never shown.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        NEEDS_RECONNECT = "needs_reconnect", _("Needs reconnect")
        REVOKED = "revoked", _("Disconnected")
        ERROR = "error", _("Error")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="linked_accounts",
        null=True,
        blank=True,
        verbose_name=_("user"),
        help_text=_("empty for this site's own app-level connection"),
    )
    provider = models.CharField(_("provider"), max_length=64)
    external_id = models.CharField(_("external id"), max_length=255)
    username = models.CharField(_("external username"), max_length=255, blank=True)
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE
    )

    access_token = EncryptedTextField(blank=True, default="")
    token_secret = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")

    expires_at = models.DateTimeField(_("access token expires"), null=True, blank=True)
    refresh_expires_at = models.DateTimeField(_("refresh token expires"), null=True, blank=True)
    last_refreshed_at = models.DateTimeField(_("last refreshed at"), null=True, blank=True)
    last_verified_at = models.DateTimeField(_("last verified at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)

    created_at = models.DateTimeField(_("connected"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = LinkQuerySet.as_manager()

    class Meta:
        ordering = ["provider", "username", "pk"]
        verbose_name = _("linked account")
        verbose_name_plural = _("linked accounts")
        permissions = [("disconnect_linkedaccount", _("Can disconnect linked account"))]
        constraints = [
            # A disconnected link keeps its history but frees the external account.
            models.UniqueConstraint(
                fields=["provider", "external_id"],
                condition=~Q(status="revoked"),
                name="one_live_link_per_external_account",
            ),
            # An app-level connection is one cached token per provider.
            models.UniqueConstraint(
                fields=["provider"], condition=Q(user=None), name="one_app_link_per_provider"
            ),
        ]
        # No index covers a column a routine refresh changes (tokens, expiry, times), so its
        # UPDATE is HOT; what the sweep looks up by expiry is in `RefreshSchedule`.
        indexes = [
            models.Index(fields=["user", "provider"], name="link_user_provider_idx"),
            models.Index(fields=["status"], name="link_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.username or self.external_id}"

    @property
    def is_app_level(self) -> bool:
        """Return whether this is the site's own connection (client credentials, no user)."""
        return self.user_id is None

    def is_due(self, window: timedelta) -> bool:
        """Return whether this link is in `LinkedAccount.objects.due(window)`, without a query."""
        if not self.renewable:
            window = timedelta(0)
        return (
            self.status == self.Status.ACTIVE
            and self.expires_at is not None
            and self.expires_at <= timezone.now() + window
        )

    @property
    def renewable(self) -> bool:
        """Return whether the access token can be renewed before it expires: the link holds a
        refresh token, or it is the site's own (a new client-credentials token renews it)."""
        return self.is_app_level or bool(self.refresh_token)

    def token_set(self) -> TokenSet:
        """Return the link's credentials as the providers take them."""
        return TokenSet(
            access_token=self.access_token,
            token_secret=self.token_secret,
            refresh_token=self.refresh_token,
            expires_at=self.expires_at,
            refresh_expires_at=self.refresh_expires_at,
            scopes=tuple(self.scopes),
        )

    def rename(self, username: str) -> bool:
        """Take the account's name at the provider, cut to the column; return if it changed."""
        username = username[: self._meta.get_field("username").max_length]
        changed = self.username != username
        self.username = username
        return changed

    def mark_active(self, tokens: TokenSet, *, replace: bool = False) -> list[str]:
        """Store new tokens and mark the link active with no error; the caller saves. Return
        the names of the fields whose values changed, for `save(update_fields=…)`.

        A refresh keeps the refresh token the provider did not send again; `replace` (a
        connect, an app token) forgets it.
        """
        # A deferred secret is not read (it may be one no key opens); it counts as changed
        # once assigned.
        unread = self.get_deferred_fields()
        before = {name: getattr(self, name) for name in TOKEN_STATE_FIELDS if name not in unread}
        if replace:
            self.refresh_token = ""
            self.refresh_expires_at = None
        self.access_token = tokens.access_token
        self.token_secret = tokens.token_secret
        self.expires_at = tokens.expires_at
        if tokens.refresh_token:
            self.refresh_token = tokens.refresh_token
            self.refresh_expires_at = tokens.refresh_expires_at
        if tokens.scopes:
            self.scopes = list(tokens.scopes)
        self.status = self.Status.ACTIVE
        self.last_error = ""
        self.last_error_at = None
        still_unread = self.get_deferred_fields()
        return [
            name
            for name in TOKEN_STATE_FIELDS
            if name not in still_unread
            and (name not in before or getattr(self, name) != before[name])
        ]

    def mark_error(self, reason: str) -> None:
        """Save the link as in error (no worker refreshes it), and why; its tokens stay."""
        self.status = self.Status.ERROR
        self.last_error = provider_text(reason)
        self.last_error_at = timezone.now()
        self.save(update_fields=["status", "last_error", "last_error_at", "updated_at"])

    def mark_needs_reconnect(self, reason: str) -> None:
        """Save the link as waiting for its owner to connect again, and why (which may quote
        the provider: kept as `provider_text` leaves it)."""
        self.status = self.Status.NEEDS_RECONNECT
        self.last_error = provider_text(reason)
        self.last_error_at = timezone.now()
        self.save(update_fields=["status", "last_error", "last_error_at", "updated_at"])


class RefreshSchedule(models.Model):
    """When the sweep refreshes a link, kept apart from the link so the refresh's UPDATE of the
    wide link row touches no index (a HOT update) and only this narrow row is re-indexed.

    Kept by the database itself: triggers on the link table (see `schedule`) insert a link's
    row and set `due_at` to the access token's expiry while the link is active (empty
    otherwise) and `renewable` whenever its status, expiry, refresh token or owner changes,
    from any writer. A new expiry (a refresh saved) also ends the sweep's mark.
    """

    link = models.OneToOneField(
        LinkedAccount, on_delete=models.CASCADE, primary_key=True, related_name="schedule"
    )
    provider = models.CharField(max_length=64)
    due_at = models.DateTimeField("refresh due", null=True, blank=True)
    # `RENEWABLE` of the link: one that is not is due only once its access token has expired.
    renewable = models.BooleanField(default=True)
    # Set by the sweep when it enqueues a refresh, cleared by the refresh: while it is set (and
    # younger than CONNECTAPP_REFRESH_LEASE_SECONDS) no sweep enqueues this link again.
    queued_at = models.DateTimeField("refresh queued", null=True, blank=True)

    class Meta:
        # Two partial indexes, each touched by one of a link's two routine writes only: the
        # sweep's mark (queued_at set) leaves the first and enters the second, the refresh's
        # save (a new expiry, the mark cleared) the reverse, so each writes one index besides
        # the primary key.
        indexes = [
            # Active links with no refresh queued, by expiry: the sweep's claim (its window is
            # the range scanned; the provider is read from the index), the stats' "due", and,
            # with the next index, `LinkedAccount.objects.due` for the command and the admin.
            models.Index(
                fields=["due_at", "provider"],
                condition=Q(due_at__isnull=False, queued_at__isnull=True),
                name="schedule_waiting_idx",
            ),
            # Links with a refresh queued: markers left by a lost task, found by age and
            # released; and the queued half of "due".
            models.Index(
                fields=["queued_at"],
                condition=Q(queued_at__isnull=False),
                name="schedule_queued_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"refresh of link {self.link_id} due {self.due_at}"


#: A routine event: a token refreshed as planned, no state changed. Every other event is a
#: change of a link's state and is kept for good; these only for the retention period.
ROUTINE = Q(kind="refreshed", outcome="ok", detail="")


class EventQuerySet(models.QuerySet):
    def routine(self) -> "EventQuerySet":
        """Return the routine events (see `ROUTINE`), which are kept only for a while."""
        return self.filter(ROUTINE)


class ConnectionEvent(models.Model):
    """What happened to a link, by whom, and how it went. Never holds a secret."""

    class Kind(models.TextChoices):
        CONNECTED = "connected", _("Connected")
        RECONNECTED = "reconnected", _("Reconnected")
        REFRESHED = "refreshed", _("Token refreshed")
        VERIFIED = "verified", _("Identity verified")
        NEEDS_RECONNECT = "needs_reconnect", _("Needs reconnect")
        DISCONNECTED = "disconnected", _("Disconnected")
        ERROR = "error", _("Error")

    class Outcome(models.TextChoices):
        OK = "ok", _("OK")
        FAILED = "failed", _("Failed")
        TRANSIENT = "transient", _("Provider unavailable")

    # `event_account_time_idx` leads with the link: a link's history, and its deletion, use it.
    account = part_of(LinkedAccount, "events", _("account"), indexed=False)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.OK
    )
    detail = models.TextField(_("detail"), blank=True, default="")
    actor = models.CharField(
        _("actor"), max_length=150, help_text=_("who or what acted: user:…, admin:…, worker")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("connection event")
        verbose_name_plural = _("connection events")
        indexes = [
            models.Index(fields=["account", "-created_at"], name="event_account_time_idx"),
            # The retention pruning's: routine refreshes by age, and nothing else.
            models.Index(fields=["created_at"], condition=ROUTINE, name="event_routine_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.outcome}) by {self.actor}"


# --- The backend API ------------------------------------------------------------------------


class ApiKey(models.Model):
    """A key other services use to call `/api/v1/`. Only its SHA-256 digest is stored; the
    key itself is shown once, when it is created (`apikeys.create_key`)."""

    class Scope(models.TextChoices):
        CONNECTIONS_READ = "connections:read", _("Read and disconnect links")
        CREDENTIALS_READ = "credentials:read", _("Read a link's access token")
        CREDENTIALS_REFRESH_TOKEN = (
            "credentials:refresh_token",
            _("Also read a link's refresh token (with credentials:read)"),
        )
        PROXY = "proxy", _("Call the provider through connectapp")
        CONNECT_SESSIONS_WRITE = "connect_sessions:write", _("Send users to connect their accounts")

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(
        _("prefix"),
        max_length=16,
        unique=True,
        help_text=_("the key's first characters, to recognise it"),
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    providers = names_or_all(_("providers"), _("the providers this key may use; empty for all"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        ordering = ["-created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def allows_provider(self, provider: str) -> bool:
        return includes(self.providers, provider)


class ApiUsage(models.Model):
    """How often one key read one link's credentials or called its provider through the proxy:
    one row per key, link and kind, counted up in place by `apikeys.count_use`."""

    class Kind(models.TextChoices):
        CREDENTIALS = "credentials", _("Credentials read")
        PROXY = "proxy", _("Proxied call")

    key = part_of(ApiKey, "usage", _("API key"))
    account = part_of(LinkedAccount, "api_usage", _("account"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    count = models.PositiveBigIntegerField(_("count"), default=0)
    last_at = models.DateTimeField(_("last used at"))

    class Meta:
        verbose_name = _("API usage")
        verbose_name_plural = _("API usage")
        constraints = [
            models.UniqueConstraint(fields=["key", "account", "kind"], name="one_usage_row")
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.kind} {self.account}: {self.count}"


class SiteUser(models.Model):
    """The deploying site's own id for a local user made by a connect session. Kept beside the
    user model, so any custom user model works."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_identity"
    )
    site_id = models.CharField(_("site's user id"), max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.site_id


class ConnectSession(models.Model):
    """A single-use link a backend made for one of its users to connect their accounts."""

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, related_name="+")
    site_id = models.CharField(_("site's user id"), max_length=255)
    email = models.EmailField(blank=True, default="")
    display_name = models.CharField(max_length=150, blank=True, default="")
    providers = models.JSONField(default=list)
    return_url = models.URLField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"connect session for {self.site_id}"


def new_event_id() -> str:
    """Return a fresh event id: the `webhook-id` every delivery of the event carries."""
    return f"msg_{uuid.uuid4().hex}"


#: Announced events not yet fanned out into deliveries: what the sweep dispatches again.
UNDISPATCHED = Q(dispatched_at__isnull=True)
#: The webhook endpoints an event is fanned out to: the active ones, and the disabled ones,
#: whose deliveries wait for them to be enabled again.
RECEIVING = Q(is_active=True) | Q(disabled_at__isnull=False)


class AnnouncedEvent(models.Model):
    """The transactional outbox: one row per event, written in the state change's transaction.

    A worker fans it out into one `WebhookDelivery` per subscribed endpoint (`dispatched_at`
    says it did); the sweep dispatches rows whose message was lost. `payload` is the body's
    `data` and never holds a token, secret, code or verifier.
    """

    event_id = models.CharField(max_length=40, unique=True, default=new_event_id)
    type = models.CharField(max_length=40, db_index=True)
    payload = models.JSONField()
    account = models.ForeignKey(
        LinkedAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The history entry announced. Routine entries are pruned after the retention period in
    # one DELETE a batch (`services.prune_routine_events`), so this is a plain reference, not a
    # constraint the prune would have to cascade through; the announcement keeps its payload.
    connection_event = models.OneToOneField(
        ConnectionEvent,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="announcement",
    )
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["created_at"], condition=UNDISPATCHED, name="event_undispatched_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class WebhookEndpoint(models.Model):
    """A URL of the deploying site that receives signed events (Standard Webhooks)."""

    url = models.URLField(_("URL"), max_length=2000)
    description = models.CharField(_("description"), max_length=200, blank=True, default="")
    events = names_or_all(_("events"), _("the event types it wants; empty for every type"))
    is_active = models.BooleanField(_("active"), default=True)
    secret = EncryptedTextField(editable=False)
    # Set by the first failure of a run of failures, cleared by any success.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(
        _("disabled at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("disabled after failing for days"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return includes(self.events, event_type)


class WebhookDelivery(models.Model):
    """One event for one endpoint: delivered at least once, always with the event's id."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed (retries exhausted)")

    event = part_of(AnnouncedEvent, "deliveries", _("event"))
    endpoint = part_of(WebhookEndpoint, "deliveries", _("endpoint"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempt_count = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    # Set when a message for it is published; the sweep publishes again when it is older than
    # CONNECTAPP_WEBHOOK_LEASE_SECONDS (the message was lost) or empty (a retry too far off for a
    # countdown in the broker).
    queued_at = models.DateTimeField(null=True, blank=True)
    # Set while an attempt is in flight: the per-endpoint concurrency limit counts these.
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(_("last status code"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_pending_idx",
            ),
            models.Index(
                fields=["endpoint", "attempt_started_at"],
                condition=Q(attempt_started_at__isnull=False),
                name="delivery_in_flight_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery and what came back (the first bytes only)."""

    delivery = part_of(WebhookDelivery, "attempts")
    attempted_at = models.DateTimeField(_("attempted at"), default=timezone.now)
    status_code = models.PositiveIntegerField(_("status code"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    response_excerpt = models.TextField(_("response excerpt"), blank=True, default="")
    error = models.CharField(_("error"), max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-attempted_at", "-pk"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self) -> str:
        return f"{self.status_code or self.error} at {self.attempted_at:%Y-%m-%d %H:%M:%S}"
