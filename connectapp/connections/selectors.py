"""Reads. Listing queries leave the encrypted columns unread: pages never need a secret."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import BooleanField, Count, ExpressionWrapper, F, Min, Q, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from connectapp import conf
from connectapp.providers import registry
from connectapp.providers.base import Provider

from .models import (
    SECRET_FIELDS,
    ConnectionEvent,
    LinkedAccount,
    RefreshSchedule,
    WebhookDelivery,
    WebhookEndpoint,
)

#: Event outcomes that count as a failure: the provider's "no" and its outages alike.
FAILED_OUTCOMES = (ConnectionEvent.Outcome.FAILED, ConnectionEvent.Outcome.TRANSIENT)


def links() -> QuerySet[LinkedAccount]:
    return LinkedAccount.objects.defer(*SECRET_FIELDS).select_related("user")


def accounts_for(user) -> QuerySet[LinkedAccount]:
    """The user's live links; `reconnect_soon` flags those that stop working soon: their
    refresh token runs out, or their access token does and there is no refresh token."""
    warn_before = timezone.now() + conf.value("RECONNECT_WARNING_SECONDS")
    runs_out = Q(refresh_expires_at__lte=warn_before) | Q(
        refresh_token="", expires_at__lte=warn_before
    )
    return (
        LinkedAccount.objects.defer(*SECRET_FIELDS)
        .filter(user=user)
        .live()
        .annotate(
            reconnect_soon=ExpressionWrapper(
                Q(status=LinkedAccount.Status.ACTIVE) & runs_out,
                output_field=BooleanField(),
            ),
            # A refresh the provider accepted is a check too. (SQLite's MAX() of a NULL is NULL.)
            last_checked_at=Coalesce(
                Greatest("last_verified_at", "last_refreshed_at"),
                "last_verified_at",
                "last_refreshed_at",
            ),
        )
        .order_by("provider", "username", "pk")
    )


@dataclass
class ProviderCard:
    provider: Provider
    accounts: list[LinkedAccount] = field(default_factory=list)

    @property
    def configured(self) -> bool:
        return self.provider.configured

    @property
    def permissions(self) -> list[str]:
        """What connecting lets this site do, in words."""
        return self.provider.permissions()

    @property
    def needing_attention(self) -> list[LinkedAccount]:
        """Links the user should reconnect: refused, broken, or running out soon."""
        return [
            link
            for link in self.accounts
            if link.status != LinkedAccount.Status.ACTIVE or link.reconnect_soon
        ]


def cards_for(user) -> list[ProviderCard]:
    """One card per provider, with the user's live links to it, in one query."""
    cards = {provider.name: ProviderCard(provider) for provider in registry.user_providers()}
    for link in accounts_for(user):
        if link.provider in cards:
            cards[link.provider].accounts.append(link)
    return list(cards.values())


def provider_of(link_id: int) -> str:
    """The link's provider name ("" when the link is gone)."""
    return LinkedAccount.objects.filter(pk=link_id).values_list("provider", flat=True).first() or ""


def due_for_verification(provider_name: str, *, limit: int | None = None) -> QuerySet:
    """Ids of the provider's live links, the longest unverified first, at most `limit`."""
    ids = (
        LinkedAccount.objects.filter(provider=provider_name)
        .live()
        .order_by(F("last_verified_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)
    )
    return ids[:limit] if limit is not None else ids


@dataclass(frozen=True)
class RefreshQueue:
    """Where the sweep stands: links queued for a refresh (or waiting to retry one), the
    oldest mark, and links due that the next sweep will queue."""

    queued: int
    oldest_queued_at: datetime | None
    due_unqueued: int


def refresh_queue(provider_names: list[str], window: timedelta) -> RefreshQueue:
    """Two indexed queries, whatever the number of links."""
    queued = RefreshSchedule.objects.filter(queued_at__isnull=False).aggregate(
        n=Count("pk"), oldest=Min("queued_at")
    )
    due = LinkedAccount.objects.filter(provider__in=provider_names).due(window).unqueued().count()
    return RefreshQueue(queued=queued["n"], oldest_queued_at=queued["oldest"], due_unqueued=due)


@dataclass(frozen=True)
class ProviderCounts:
    """One provider's links, counted per status in the order of `LinkedAccount.Status`."""

    provider: str
    display_name: str
    by_status: list[tuple[str, int]]

    @property
    def total(self) -> int:
        return sum(count for _, count in self.by_status)


@dataclass(frozen=True)
class LinkOverview:
    providers: list[ProviderCounts]
    needs_reconnect: int
    failed_events: int
    failing_links: int
    since: datetime


def link_overview(*, failures_within: timedelta = timedelta(hours=24)) -> LinkOverview:
    """What an admin checks first, in two queries whatever the number of links."""
    counted: dict[str, dict[str, int]] = {}
    rows = (
        LinkedAccount.objects.order_by().values_list("provider", "status").annotate(n=Count("pk"))
    )
    for provider, status, count in rows:
        counted.setdefault(provider, {})[status] = count
    known = {provider.name: provider.display_name for provider in registry.every_provider()}
    providers = [
        ProviderCounts(
            provider=name,
            display_name=known.get(name, name),
            by_status=[(status, counts.get(status, 0)) for status in LinkedAccount.Status.values],
        )
        for name, counts in sorted(counted.items())
    ]
    since = timezone.now() - failures_within
    failures = ConnectionEvent.objects.filter(
        created_at__gte=since, outcome__in=FAILED_OUTCOMES
    ).aggregate(events=Count("pk"), links=Count("account", distinct=True))
    return LinkOverview(
        providers=providers,
        needs_reconnect=sum(
            dict(row.by_status)[LinkedAccount.Status.NEEDS_RECONNECT] for row in providers
        ),
        failed_events=failures["events"],
        failing_links=failures["links"],
        since=since,
    )


def webhook_endpoints() -> QuerySet[WebhookEndpoint]:
    """Return every webhook endpoint with `pending` and `failed` counts of its deliveries."""
    statuses = WebhookDelivery.Status
    return (
        WebhookEndpoint.objects.defer("secret")
        .annotate(
            pending=Count("deliveries", filter=Q(deliveries__status=statuses.PENDING)),
            failed=Count("deliveries", filter=Q(deliveries__status=statuses.FAILED)),
        )
        .order_by("pk")
    )
