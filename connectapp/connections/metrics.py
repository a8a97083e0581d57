"""What the workers did: one structured log line per refresh or verification, and counters of
outcomes (with their total duration) that operators read with `manage.py connections stats`.

Counters live in the shared Redis (a hash per deployment), so every worker adds to the same
numbers; without Redis they are kept per process. Log lines carry the link's id, provider,
outcome, attempt and duration, never a token: the tasks never see one.
"""

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .shared_state import redis_client

if TYPE_CHECKING:
    from .selectors import RefreshQueue

logger = logging.getLogger("connectapp.workers")

COUNTS_KEY = "connectapp:outcomes:count"
SECONDS_KEY = "connectapp:outcomes:seconds"


@dataclass
class Observation:
    """Filled in by the observed block: what came of it."""

    outcome: str = "error"


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
    client = redis_client()
    if client is None:
        _local.add(field, duration)
        return
    with client.pipeline(transaction=False) as pipe:
        pipe.hincrby(COUNTS_KEY, field, 1)
        pipe.hincrbyfloat(SECONDS_KEY, field, duration)
        pipe.execute()


def outcome_counts() -> list[OutcomeCount]:
    """Every counter, sorted by operation, provider and outcome."""
    client = redis_client()
    if client is None:
        counts, seconds = _local.snapshot()
    else:
        counts = {key.decode(): int(value) for key, value in client.hgetall(COUNTS_KEY).items()}
        seconds = {key.decode(): float(value) for key, value in client.hgetall(SECONDS_KEY).items()}
    return [
        OutcomeCount(*field.split("|", 2), count=count, seconds=seconds.get(field, 0.0))
        for field, count in sorted(counts.items())
    ]


def queue_depths() -> dict[str, int]:
    """Messages waiting in each of the app's broker queues (not counting those a worker holds)."""
    from connectapp.celery import app

    depths = {}
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        for queue in app.conf.task_queues:
            depths[queue.name] = channel.queue_declare(queue=queue.name).message_count
    return depths


def prometheus_lines(
    queue: "RefreshQueue", outcomes: list[OutcomeCount], depths: dict[str, int]
) -> list[str]:
    """The numbers of `connections stats` in Prometheus' text format (for a textfile
    collector): no client library needed for a handful of counters and gauges."""
    counters = {
        "connectapp_task_outcomes_total": "Refreshes and verifications run, by outcome.",
        "connectapp_task_seconds_total": "Time spent in them, by outcome.",
    }
    lines = []
    for name, description in counters.items():
        lines += [f"# HELP {name} {description}", f"# TYPE {name} counter"]
        for row in outcomes:
            labels = ",".join(
                f'{label}="{getattr(row, label)}"' for label in ("operation", "provider", "outcome")
            )
            value = row.count if name.startswith("connectapp_task_outcomes") else row.seconds
            lines.append(f"{name}{{{labels}}} {value}")
    gauges = {
        "connectapp_refresh_queued_links": (
            "Links with a refresh queued or waiting to retry.",
            {"": queue.queued},
        ),
        "connectapp_refresh_due_links": (
            "Links due for a refresh and not yet queued.",
            {"": queue.due_unqueued},
        ),
        "connectapp_broker_queue_messages": (
            "Messages waiting in a broker queue.",
            {f'{{queue="{name}"}}': depth for name, depth in depths.items()},
        ),
    }
    for name, (description, values) in gauges.items():
        lines += [f"# HELP {name} {description}", f"# TYPE {name} gauge"]
        lines += [f"{name}{labels} {value}" for labels, value in values.items()]
    return lines


def reset() -> None:
    """Start the counters from zero (tests and the benchmark)."""
    client = redis_client()
    if client is not None:
        client.delete(COUNTS_KEY, SECONDS_KEY)
    _local.reset()


class _LocalCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._seconds: dict[str, float] = {}

    def add(self, field: str, duration: float) -> None:
        with self._lock:
            self._counts[field] = self._counts.get(field, 0) + 1
            self._seconds[field] = self._seconds.get(field, 0.0) + duration

    def snapshot(self) -> tuple[dict[str, int], dict[str, float]]:
        with self._lock:
            return dict(self._counts), dict(self._seconds)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._seconds.clear()


_local = _LocalCounters()
