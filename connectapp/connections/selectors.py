"""Reads. Listing queries leave the encrypted columns unread: pages never need a secret."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from connectapp.providers import registry
from connectapp.providers.base import Provider

from .models import SECRET_FIELDS, LinkedAccount


def links() -> QuerySet[LinkedAccount]:
    return LinkedAccount.objects.defer(*SECRET_FIELDS).select_related("user")


def accounts_for(user) -> QuerySet[LinkedAccount]:
    return (
        LinkedAccount.objects.defer(*SECRET_FIELDS)
        .filter(user=user)
        .exclude(status=LinkedAccount.Status.REVOKED)
        .order_by("provider", "username", "pk")
    )


@dataclass
class ProviderCard:
    provider: Provider
    accounts: list[LinkedAccount] = field(default_factory=list)

    @property
    def configured(self) -> bool:
        return self.provider.configured


def cards_for(user) -> list[ProviderCard]:
    """One card per provider, with the user's live links to it, in one query."""
    cards = {provider.name: ProviderCard(provider) for provider in registry.all_providers()}
    for account in accounts_for(user):
        if account.provider in cards:
            cards[account.provider].accounts.append(account)
    return list(cards.values())


def due_for_refresh(provider_names: list[str], window: timedelta) -> QuerySet[LinkedAccount]:
    """Active links whose access token expires within `window` (served by the expiry index)."""
    return (
        LinkedAccount.objects.filter(
            provider__in=provider_names,
            status=LinkedAccount.Status.ACTIVE,
            expires_at__lte=timezone.now() + window,
        )
        .order_by("expires_at")
        .values_list("pk", flat=True)
    )
