"""Real Celery worker processes against the test database, the real Redis broker and the
Pinterest stand-in served by this process's live server.

`start_worker()` starts `celery worker` with subprocess, pointed at the test database pytest
created and at the stand-in, waits until it answers a ping, and stops it after the test.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

from connectapp.celery import app
from connectapp.connections import metrics, ratelimit
from connectapp.connections.models import LinkedAccount
from connectapp.sandbox.pinterest import standin
from tests.connections.webhook_receiver import receiver_factory  # noqa: F401 - a fixture

WORKER_START_TIMEOUT = 60
QUEUES = (
    settings.CELERY_TASK_DEFAULT_QUEUE,
    settings.CONNECTAPP_PROVIDER_QUEUE,
    settings.CONNECTAPP_WEBHOOK_QUEUE,
)


def wait_until(condition: Callable[[], object], *, timeout: float = 60, what: str = "") -> None:
    """Poll until `condition()` is true; fail the test (not hang it) when it never is."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting {timeout}s for {what or condition.__name__}")
        time.sleep(0.05)


def database_url() -> str:
    """The test database pytest-django created, as the workers' DATABASE_URL."""
    db = settings.DATABASES["default"]
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{db['NAME']}"


def purge_queues() -> None:
    with app.connection_for_write() as connection:
        for name in QUEUES:
            connection.default_channel.queue_purge(name)


@dataclass
class Worker:
    node: str
    process: subprocess.Popen
    log: Path

    def pool_processes(self) -> list[int]:
        """The pids of the pool's child processes (where tasks run)."""
        stats = app.control.inspect([self.node], timeout=5).stats() or {}
        return stats[self.node]["pool"]["processes"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture
def start_worker(sandbox, transactional_db, redis_url, tmp_path):
    """Answers a function that starts a worker; every worker started is stopped afterwards."""
    workers: list[Worker] = []

    def start(*, concurrency: int = 2, beat: bool = False, env: dict | None = None) -> Worker:
        node = f"h5-test-{uuid.uuid4().hex[:8]}@%h"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "connectapp",
            "worker",
            "--hostname",
            node,
            "--pool=prefork",
            f"--concurrency={concurrency}",
            f"--queues={','.join(QUEUES)}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
        if beat:
            command += ["--beat", "--schedule", str(tmp_path / f"beat-{len(workers)}")]
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CONNECTAPP_")},
            "DEBUG": "true",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "PINTEREST_API_URL": f"{sandbox}/pinterest/v5",
            "PINTEREST_CLIENT_ID": settings.PINTEREST_CLIENT_ID,
            "PINTEREST_CLIENT_SECRET": settings.PINTEREST_CLIENT_SECRET,
            **(env or {}),
        }
        log = tmp_path / f"worker-{len(workers)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(node.replace("%h", os.uname().nodename), process, log)
        workers.append(worker)

        def answers() -> bool:
            if process.poll() is not None:
                pytest.fail(f"the worker exited:\n{log.read_text()[-3000:]}")
            return bool(app.control.ping([worker.node], timeout=0.5))

        wait_until(answers, timeout=WORKER_START_TIMEOUT, what="the worker to answer a ping")
        return worker

    purge_queues()
    metrics.reset()
    yield start
    for worker in workers:
        worker.stop()
    purge_queues()
    metrics.reset()


@pytest.fixture
def pinterest(sandbox):
    standin.reset()
    ratelimit.reset("pinterest")
    yield standin
    standin.reset()


def finished(operation: str) -> int:
    """How many `operation` tasks the workers have finished, whatever their outcome."""
    return sum(row.count for row in metrics.outcome_counts() if row.operation == operation)


def outcomes(operation: str) -> dict[str, int]:
    return {
        row.outcome: row.count for row in metrics.outcome_counts() if row.operation == operation
    }


def stored(account: LinkedAccount) -> LinkedAccount:
    return LinkedAccount.objects.get(pk=account.pk)
