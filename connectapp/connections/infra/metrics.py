"""What the workers did: one structured log line per refresh or verification, and counters of
outcomes (with their total duration) that operators read with `manage.py connections stats`.

Counters live in the shared store (`store`: a Redis hash per deployment), so every worker adds
to the same numbers; without Redis they are kept per process. `exposition` writes them in
Prometheus' text format through `prometheus_client`. Log lines carry the link's id, provider,
outcome, attempt and duration, never a token: the tasks never see one.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from celery import current_app
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from connectapp import conf

from ..outcomes import TaskOutcome
from . import store

if TYPE_CHECKING:
    from ..selectors import RefreshQueue

logger = logging.getLogger("connectapp.workers")

COUNTS_KEY = store.PREFIX + "outcomes:count"
SECONDS_KEY = store.PREFIX + "outcomes:seconds"


@dataclass
class Observation:
    """Filled in by the observed block: what came of it."""

    outcome: str = TaskOutcome.ERROR


@dataclass(frozen=True)
class OutcomeCount:
    operation: str
    provider: str
    outcome: str
    count: int
    seconds: float

    @property
    def mean_seconds(self) -> float:
        return self.seconds / self.count if self.count else 0.0


@contextmanager
def observed(operation: str, account_id: int, provider: str, attempt: int) -> Iterator[Observation]:
    """Time the block, then log and count its outcome (`error` when it raised unexpectedly)."""
    observation = Observation()
    started = time.perf_counter()
    try:
        yield observation
    finally:
        record(
            operation,
            provider,
            observation.outcome,
            time.perf_counter() - started,
            link=account_id,
            attempt=attempt,
        )


def record(operation: str, provider: str, outcome: str, duration: float, **fields) -> None:
    """Log one line for the operation and add it to the shared counters."""
    line = {
        "op": operation,
        **fields,
        "provider": provider,
        "outcome": outcome,
        "duration_ms": round(duration * 1000, 1),
    }
    logger.info(
        " ".join(f"{name}={value}" for name, value in line.items()), extra={"connectapp": line}
    )
    field = f"{operation}|{provider}|{outcome}"
    if store.client() is None:
        store.local.update(COUNTS_KEY, lambda counts: _added(counts, field, 1))
        store.local.update(SECONDS_KEY, lambda seconds: _added(seconds, field, duration))
        return

    def count(pipe) -> None:
        pipe.hincrby(COUNTS_KEY, field, 1)
        pipe.hincrbyfloat(SECONDS_KEY, field, duration)

    store.round_trip(count)


def _added(totals: dict | None, field: str, amount: float) -> dict:
    totals = dict(totals or {})
    totals[field] = totals.get(field, 0) + amount
    return totals


def outcome_counts() -> list[OutcomeCount]:
    """Return every counter, sorted by operation, provider and outcome."""
    client = store.client()
    if client is None:
        counts = store.local.get(COUNTS_KEY) or {}
        seconds = store.local.get(SECONDS_KEY) or {}
    else:
        counts = {key.decode(): int(value) for key, value in client.hgetall(COUNTS_KEY).items()}
        seconds = {key.decode(): float(value) for key, value in client.hgetall(SECONDS_KEY).items()}
    return [
        OutcomeCount(*field.split("|", 2), count=count, seconds=seconds.get(field, 0.0))
        for field, count in sorted(counts.items())
    ]


def queue_depths() -> dict[str, int]:
    """Return the messages waiting in each of the app's broker queues (not counting those a
    worker holds), on the site's own Celery app: the standalone project's or a host's."""
    app = current_app
    names = dict.fromkeys(
        [
            app.conf.task_default_queue,
            conf.value("PROVIDER_QUEUE"),
            *(queue.name for queue in app.conf.task_queues or ()),
        ]
    )
    depths = {}
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        for name in names:
            depths[name] = channel.queue_declare(queue=name).message_count
    return depths


def exposition(queue: "RefreshQueue", outcomes: list[OutcomeCount], depths: dict[str, int]) -> str:
    """Return the numbers of `connections stats` in Prometheus' text format (for a textfile
    collector)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatsCollector(queue, outcomes, depths))
    return generate_latest(registry).decode()


class _StatsCollector(Collector):
    """One reading of the counters, the refresh queue and the broker's queues."""

    def __init__(
        self, queue: "RefreshQueue", outcomes: list[OutcomeCount], depths: dict[str, int]
    ) -> None:
        self.queue, self.outcomes, self.depths = queue, outcomes, depths

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        labels = ["operation", "provider", "outcome"]
        runs = CounterMetricFamily(
            "connectapp_task_outcomes_total",
            "Refreshes and verifications run, by outcome.",
            labels=labels,
        )
        seconds = CounterMetricFamily(
            "connectapp_task_seconds_total", "Time spent in them, by outcome.", labels=labels
        )
        for row in self.outcomes:
            runs.add_metric([row.operation, row.provider, row.outcome], row.count)
            seconds.add_metric([row.operation, row.provider, row.outcome], row.seconds)
        yield runs
        yield seconds
        yield GaugeMetricFamily(
            "connectapp_refresh_queued_links",
            "Links with a refresh queued or waiting to retry.",
            value=self.queue.queued,
        )
        yield GaugeMetricFamily(
            "connectapp_refresh_due_links",
            "Links due for a refresh and not yet queued.",
            value=self.queue.due_unqueued,
        )
        messages = GaugeMetricFamily(
            "connectapp_broker_queue_messages",
            "Messages waiting in a broker queue.",
            labels=["queue"],
        )
        for name, depth in self.depths.items():
            messages.add_metric([name], depth)
        yield messages


def reset() -> None:
    """Start the counters from zero (tests and the benchmark)."""
    client = store.client()
    if client is not None:
        client.delete(COUNTS_KEY, SECONDS_KEY)
    store.local.delete(COUNTS_KEY)
    store.local.delete(SECONDS_KEY)
