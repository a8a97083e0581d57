from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from connectapp.providers.base import TokenSet

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


class LinkQuerySet(models.QuerySet):
    """The words the services, selectors, admin and commands use to pick links."""

    def locked(self) -> "LinkQuerySet":
        """Return these links locked for update until the caller's transaction ends."""
        return self.select_for_update()

    def live(self) -> "LinkQuerySet":
        """Return the links not disconnected (a disconnected one keeps only its history)."""
        return self.exclude(status=LinkedAccount.Status.REVOKED)

    def due(self, window: timedelta) -> "LinkQuerySet":
        """Return the active links whose access token expires within `window`.

        The one definition of "due" for the sweep, `connections refresh --due`, the stats and
        the admin filter, read from the links' `RefreshSchedule` (its `due_at` is the expiry of
        an active link's token, and empty otherwise); `LinkedAccount.is_due` asks the same of a
        row in hand.
        """
        return self.filter(schedule__due_at__lte=timezone.now() + window)

    def unqueued(self) -> "LinkQuerySet":
        """Return the links with no refresh queued by the sweep."""
        return self.filter(schedule__queued_at__isnull=True)


class LinkedAccount(models.Model):
    """One account at a provider, linked to one local user, or this site's own app-level
    (client credentials) connection to a provider, which has no user.

    Tokens are written only by `services`; they are encrypted in the database and never shown.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnect"
        REVOKED = "revoked", "Disconnected"
        ERROR = "error", "Error"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="linked_accounts",
        null=True,
        blank=True,
        help_text="empty for this site's own app-level connection",
    )
    provider = models.CharField(max_length=64)
    external_id = models.CharField("external id", max_length=255)
    username = models.CharField("external username", max_length=255, blank=True)
    scopes = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)

    access_token = EncryptedTextField(blank=True, default="")
    token_secret = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")

    expires_at = models.DateTimeField("access token expires", null=True, blank=True)
    refresh_expires_at = models.DateTimeField("refresh token expires", null=True, blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField("connected", auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LinkQuerySet.as_manager()

    class Meta:
        ordering = ["provider", "username", "pk"]
        permissions = [("disconnect_linkedaccount", "Can disconnect linked account")]
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

    def is_due(self, window: timedelta) -> bool:
        """Return whether this link is in `LinkedAccount.objects.due(window)`, without a query."""
        return (
            self.status == self.Status.ACTIVE
            and self.expires_at is not None
            and self.expires_at <= timezone.now() + window
        )

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

    def mark_needs_reconnect(self, reason: str) -> None:
        """Save the link as waiting for its owner to connect again, and why."""
        self.status = self.Status.NEEDS_RECONNECT
        self.last_error = reason
        self.last_error_at = timezone.now()
        self.save(update_fields=["status", "last_error", "last_error_at", "updated_at"])


class RefreshSchedule(models.Model):
    """When the sweep refreshes a link, kept apart from the link so the refresh's UPDATE of the
    wide link row touches no index (a HOT update) and only this narrow row is re-indexed.

    Kept by the database itself: triggers on the link table (migration 0007) insert a link's
    row and set `due_at` to the access token's expiry while the link is active (empty
    otherwise) whenever its status or expiry changes, from any writer. A new expiry (a refresh
    saved) also ends the sweep's mark.
    """

    link = models.OneToOneField(
        LinkedAccount, on_delete=models.CASCADE, primary_key=True, related_name="schedule"
    )
    provider = models.CharField(max_length=64)
    due_at = models.DateTimeField("refresh due", null=True, blank=True)
    # Set by the sweep when it enqueues a refresh, cleared by the refresh: while it is set (and
    # younger than CONNECTAPP_REFRESH_LEASE) no sweep enqueues this link again.
    queued_at = models.DateTimeField("refresh queued", null=True, blank=True)

    class Meta:
        indexes = [
            # The sweep's claim: due links with no refresh queued, so queued ones cost nothing.
            models.Index(
                fields=["provider", "due_at"],
                condition=Q(due_at__isnull=False, queued_at__isnull=True),
                name="schedule_unqueued_idx",
            ),
            # Every active link by expiry: "due" for the command, the stats and the admin.
            models.Index(
                fields=["due_at"], condition=Q(due_at__isnull=False), name="schedule_due_idx"
            ),
            # Markers left by a lost task, found by age and released.
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
        CONNECTED = "connected", "Connected"
        RECONNECTED = "reconnected", "Reconnected"
        REFRESHED = "refreshed", "Token refreshed"
        VERIFIED = "verified", "Identity verified"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnect"
        DISCONNECTED = "disconnected", "Disconnected"
        ERROR = "error", "Error"

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"
        TRANSIENT = "transient", "Provider unavailable"

    account = models.ForeignKey(LinkedAccount, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.OK)
    detail = models.TextField(blank=True, default="")
    actor = models.CharField(max_length=150, help_text="who or what acted: user:…, admin:…, worker")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="event_account_time_idx"),
            # The retention pruning's: routine refreshes by age, and nothing else.
            models.Index(fields=["created_at"], condition=ROUTINE, name="event_routine_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.outcome}) by {self.actor}"
