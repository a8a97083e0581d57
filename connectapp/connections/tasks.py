"""Thin Celery tasks: scheduling, retries, rate limits and timing; the work is in `services`.

`refresh_account` and `verify_account` run on the provider queue (`CONNECTAPP_PROVIDER_QUEUE`,
where `queues.route_task` sends them) and are acknowledged only when they finish: a worker
lost mid-task hands its message back to the broker, and running a task twice, or after its
link was disconnected, changes nothing (the services decide under the link's row lock). The
sweeps run on the default queue.
"""

import random
from functools import partial

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from connectapp import conf
from connectapp.exceptions import ProviderUnavailable
from connectapp.providers import registry

from . import selectors, services
from .infra import broker, metrics, ratelimit
from .outcomes import TaskOutcome
from .services import webhooks

MAX_RETRIES = 8
#: A task sleeps this long at most for its provider's rate limit; a longer wait is rescheduled.
MAX_RATE_LIMIT_WAIT = 5.0

PROVIDER_TASK = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": conf.value("TASK_SOFT_TIME_LIMIT_SECONDS"),
    "time_limit": conf.value("TASK_TIME_LIMIT_SECONDS"),
}
SWEEP_TASK = {
    "soft_time_limit": conf.value("SWEEP_TIME_LIMIT_SECONDS"),
    "time_limit": conf.value("SWEEP_TIME_LIMIT_SECONDS") + 60,
}


def _retry_later(task, outage: ProviderUnavailable):
    """Exponential backoff with jitter, never sooner than the provider's Retry-After."""
    backoff = min(3600, 30 * 2**task.request.retries) * random.uniform(0.75, 1.25)
    countdown = max(backoff, outage.retry_after or 0)
    raise task.retry(exc=outage, countdown=countdown, max_retries=MAX_RETRIES)


def _my_turn(task, provider: str) -> bool:
    """Wait for a request slot of the provider's shared rate limit. When the slot is far off,
    the task is sent back to the queue to run then (with its retries untouched) instead."""
    wait = ratelimit.wait_turn(provider, max_wait=MAX_RATE_LIMIT_WAIT)
    if wait == 0:
        return True
    task.apply_async(
        args=task.request.args,
        kwargs=task.request.kwargs,
        countdown=wait * random.uniform(1.0, 1.1),
        retries=task.request.retries,
    )
    return False


def _run(task, operation: str, service, account_id: int, provider: str) -> str:
    provider = provider or selectors.provider_of(account_id)
    with metrics.observed(operation, account_id, provider, task.request.retries) as observed:
        if not _my_turn(task, provider):
            observed.outcome = TaskOutcome.THROTTLED
            return observed.outcome
        try:
            observed.outcome = service(account_id)
            return observed.outcome
        except (ProviderUnavailable, SoftTimeLimitExceeded) as problem:
            observed.outcome = TaskOutcome.UNAVAILABLE
            outage = problem
            if isinstance(problem, SoftTimeLimitExceeded):
                outage = ProviderUnavailable(f"{operation} ran out of time")
    _retry_later(task, outage)


@shared_task(**PROVIDER_TASK)
def refresh_account(self, account_id: int, provider: str = "") -> str:
    """Refresh one link's token; a no-op when another worker already did."""
    refresh = partial(services.refresh_queued, last_attempt=self.request.retries >= MAX_RETRIES)
    return _run(self, "refresh", refresh, account_id, provider)


@shared_task(**PROVIDER_TASK)
def verify_account(self, account_id: int, provider: str = "") -> str:
    """Ask the provider whose credentials a link holds; a no-op for a disconnected link."""
    return _run(self, "verify", services.verify, account_id, provider)


def _sweep_limit(provider: str, interval) -> int | None:
    """At most what the provider's rate limit lets through until the next sweep, so the queue
    never holds more than the workers may send; the rest waits for the next sweep, in order."""
    rate = ratelimit.rate_for(provider)
    if rate is None:
        return None
    return max(1, int(interval.total_seconds() / rate.interval))


@shared_task(**SWEEP_TASK)
def refresh_due() -> int:
    """Enqueue a refresh of every link whose token expires within the refresh window and that
    has none queued yet; answers how many were enqueued."""
    count = 0
    for provider in registry.user_providers():
        if not (provider.supports_refresh and provider.configured):
            continue
        batches = services.claim_due_refreshes(
            provider.name,
            conf.value("REFRESH_WINDOW_SECONDS"),
            batch_size=conf.value("SWEEP_BATCH_SIZE"),
            limit=_sweep_limit(provider.name, conf.value("REFRESH_SWEEP_SECONDS")),
        )
        count += _enqueue(refresh_account, provider.name, batches)
    return count


@shared_task(**SWEEP_TASK)
def verify_all() -> int:
    """Enqueue a verification of the live links of providers whose tokens do not expire, the
    longest unverified first; answers how many were enqueued."""
    count = 0
    for provider in registry.user_providers():
        if provider.supports_refresh or not provider.configured:
            continue
        ids = selectors.due_for_verification(
            provider.name, limit=_sweep_limit(provider.name, conf.value("VERIFY_INTERVAL_SECONDS"))
        )
        size = conf.value("SWEEP_BATCH_SIZE")
        batches = _batched(ids.iterator(chunk_size=size), size)
        count += _enqueue(verify_account, provider.name, batches)
    return count


@shared_task(**SWEEP_TASK)
def prune_events() -> int:
    """Delete routine refresh events past their retention period, then announced events whose
    webhook messages ended past theirs; answer how many of each together."""
    return services.prune_routine_events(
        conf.value("EVENT_RETENTION_DAYS")
    ) + services.prune_announced_events(conf.value("WEBHOOK_RETENTION_DAYS"))


def _batched(ids, size: int):
    batch = []
    for account_id in ids:
        batch.append(account_id)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _enqueue(task, provider: str, batches) -> int:
    """Publish one message per link, a batch in one round trip (see `infra.broker`).

    The provider rides along with the id: the task takes its provider's rate-limit slot before
    it reads the link, so the message saves it a query.
    """
    count = 0
    for batch in batches:
        broker.publish_each(task, batch, provider)
        count += len(batch)
    return count


# --- Webhooks (their own queue, CONNECTAPP_WEBHOOK_QUEUE: see `queues`) -------------------

WEBHOOK_TASK = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": conf.value("WEBHOOK_TIMEOUT") * 2 + 20,
    "time_limit": conf.value("WEBHOOK_TIMEOUT") * 2 + 30,
}


@shared_task(**WEBHOOK_TASK)
def dispatch_event(event_pk: int) -> int:
    """Fan one announced event out to the endpoints that want it; answers how many."""
    return len(webhooks.dispatch(event_pk))


@shared_task(**WEBHOOK_TASK)
def deliver_webhook(delivery_id: int, force: bool = False) -> str:
    """Make one attempt of a webhook delivery and schedule the next one when it failed."""
    return webhooks.run(delivery_id, force=force).name


@shared_task(**SWEEP_TASK)
def sweep_webhooks() -> list[int]:
    """Publish again the events and deliveries whose messages were lost; answers how many."""
    return list(webhooks.sweep())
