"""Thin Celery tasks: scheduling and retries only; the work is in `services`."""

import random

from celery import shared_task
from django.conf import settings

from connectapp.providers import registry
from connectapp.providers.base import ProviderUnavailable

from . import selectors, services
from .models import LinkedAccount

MAX_RETRIES = 8


def _retry_later(task, outage: ProviderUnavailable):
    """Exponential backoff with jitter, never sooner than the provider's Retry-After."""
    backoff = min(3600, 30 * 2**task.request.retries) * random.uniform(0.75, 1.25)
    countdown = max(backoff, outage.retry_after or 0)
    raise task.retry(exc=outage, countdown=countdown, max_retries=MAX_RETRIES)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def refresh_account(self, account_id: int) -> str:
    """Refresh one link's token; a no-op when another worker already did."""
    try:
        return services.refresh(account_id)
    except ProviderUnavailable as outage:
        _retry_later(self, outage)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def verify_account(self, account_id: int) -> str:
    try:
        return services.verify(account_id)
    except ProviderUnavailable as outage:
        _retry_later(self, outage)


@shared_task
def refresh_due() -> int:
    """Enqueue a refresh for every link whose token expires within the refresh window."""
    names = [p.name for p in registry.all_providers() if p.supports_refresh and p.configured]
    count = 0
    for account_id in selectors.due_for_refresh(names, settings.CONNECTAPP_REFRESH_WINDOW).iterator(
        chunk_size=2000
    ):
        refresh_account.delay(account_id)
        count += 1
    return count


@shared_task
def verify_all() -> int:
    """Enqueue a verification of every live link of providers whose tokens do not expire."""
    names = [p.name for p in registry.all_providers() if not p.supports_refresh and p.configured]
    ids = (
        LinkedAccount.objects.filter(provider__in=names)
        .exclude(status=LinkedAccount.Status.REVOKED)
        .values_list("pk", flat=True)
    )
    count = 0
    for account_id in ids.iterator(chunk_size=2000):
        verify_account.delay(account_id)
        count += 1
    return count
