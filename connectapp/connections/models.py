from django.conf import settings
from django.db import models
from django.db.models import Q

from .fields import EncryptedTextField

SECRET_FIELDS = ("access_token", "token_secret", "refresh_token")


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
    # Set by the sweep when it enqueues a refresh, cleared by the refresh: while it is set (and
    # younger than CONNECTAPP_REFRESH_LEASE) no sweep enqueues this link again.
    refresh_queued_at = models.DateTimeField("refresh queued", null=True, blank=True)

    created_at = models.DateTimeField("connected", auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

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
        indexes = [
            # The refresh sweep: live links of a provider ordered by expiry.
            models.Index(
                fields=["provider", "expires_at"],
                condition=Q(status="active"),
                name="active_link_expiry_idx",
            ),
            # The sweep's claim: due links with no refresh queued, so queued ones cost nothing.
            models.Index(
                fields=["provider", "expires_at"],
                condition=Q(status="active", refresh_queued_at__isnull=True),
                name="link_refresh_unqueued_idx",
            ),
            # Markers left by a lost task, found by age and released.
            models.Index(
                fields=["refresh_queued_at"],
                condition=Q(refresh_queued_at__isnull=False),
                name="link_refresh_queued_idx",
            ),
            models.Index(fields=["user", "provider"], name="link_user_provider_idx"),
            models.Index(fields=["status"], name="link_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.username or self.external_id}"

    @property
    def is_app_level(self) -> bool:
        return self.user_id is None

    @property
    def is_live(self) -> bool:
        return self.status != self.Status.REVOKED


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

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["account", "-created_at"], name="event_account_time_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.outcome}) by {self.actor}"
