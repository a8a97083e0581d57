"""Real Celery worker processes against the test database, the real Redis broker and the
Pinterest stand-in served by this process's live server.

`launch_worker()` starts `celery worker` with subprocess and waits until it answers a ping;
`Worker.stop()` stops it. The `start_worker` fixture uses them for the tests (pointed at the
test database pytest created and at the stand-in, every worker stopped after the test), and
`python -m bench` uses them for its throughput runs. Settings are read when called, not on
import, so the benchmark can import this module before it configures Django.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

from connectapp import conf
from connectapp.celery import app
from connectapp.connections.infra import metrics
from connectapp.connections.models import LinkedAccount

WORKER_START_TIMEOUT = 60


class WorkerDidNotStart(RuntimeError):
    """The worker exited, or did not answer a ping in time; the message says which."""


def queues() -> tuple[str, str, str]:
    """Return every queue the app uses: the sweeps', the provider calls' and the webhooks'."""
    return (
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
    """Drop every message waiting in both queues."""
    with app.connection_for_write() as connection:
        for name in queues():
            connection.default_channel.queue_purge(name)


@pytest.fixture
def broker_queues(redis_url):
    """The Redis broker's client, with every queue emptied before and after the test."""
    purge_queues()
    with app.connection_for_write() as connection:
        yield connection.default_channel.client
    purge_queues()


@dataclass
class Worker:
    node: str
    process: subprocess.Popen
    log: Path

    def pool_processes(self) -> list[int]:
        """The pids of the pool's child processes (where tasks run)."""
        stats = app.control.inspect([self.node], timeout=5).stats() or {}
        return stats[self.node]["pool"]["processes"]

    def stop(self, timeout: float = 20) -> None:
        """Stop the worker warmly (SIGTERM); kill its process group when it does not stop."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_process(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Return a process running `command` in the project's folder, in a session of its own
    (so it can be stopped with its children), its output appended to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def launch_worker(
    *,
    name: str,
    concurrency: int,
    queues: Sequence[str],
    env: dict[str, str],
    log: Path,
    loglevel: str = "INFO",
    beat_schedule: Path | None = None,
) -> Worker:
    """Return a prefork `celery worker` started with `env` as its whole environment, once it
    answers a ping; its output is appended to `log`. Raise WorkerDidNotStart otherwise."""
    node = f"{name}-{uuid.uuid4().hex[:8]}@{os.uname().nodename}"
    command = [
        sys.executable, "-m", "celery", "-A", "connectapp", "worker",
        "--hostname", node, "--pool=prefork", f"--concurrency={concurrency}",
        f"--queues={','.join(queues)}", f"--loglevel={loglevel}",
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    if beat_schedule is not None:
        command += ["--beat", "--schedule", str(beat_schedule)]
    process = start_process(command, env, log)
    worker = Worker(node, process, log)
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while not app.control.ping([node], timeout=0.5):
        if process.poll() is not None:
            raise WorkerDidNotStart(f"the worker exited:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            worker.stop()
            raise WorkerDidNotStart(
                f"gave up waiting {WORKER_START_TIMEOUT}s for the worker to answer a ping"
            )
    return worker


@pytest.fixture
def start_worker(sandbox, transactional_db, redis_url, tmp_path):
    """Answers a function that starts a worker; every worker started is stopped afterwards."""
    workers: list[Worker] = []

    def start(*, concurrency: int = 2, beat: bool = False, env: dict | None = None) -> Worker:
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CONNECTAPP_")},
            "DEBUG": "true",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "PINTEREST_API_URL": f"{sandbox}/pinterest/v5",
            "PINTEREST_CLIENT_ID": conf.value("PINTEREST_CLIENT_ID"),
            "PINTEREST_CLIENT_SECRET": conf.value("PINTEREST_CLIENT_SECRET"),
            **(env or {}),
        }
        try:
            worker = launch_worker(
                name="h5-test",
                concurrency=concurrency,
                queues=queues(),
                env=environment,
                log=tmp_path / f"worker-{len(workers)}.log",
                beat_schedule=tmp_path / f"beat-{len(workers)}" if beat else None,
            )
        except WorkerDidNotStart as problem:
            pytest.fail(str(problem))
        workers.append(worker)
        return worker

    purge_queues()
    metrics.reset()
    yield start
    for worker in workers:
        worker.stop()
    purge_queues()
    metrics.reset()


def finished(operation: str) -> int:
    """How many `operation` tasks the workers have finished, whatever their outcome."""
    return sum(row.count for row in metrics.outcome_counts() if row.operation == operation)


def outcomes(operation: str) -> dict[str, int]:
    return {
        row.outcome: row.count for row in metrics.outcome_counts() if row.operation == operation
    }


def stored(account: LinkedAccount) -> LinkedAccount:
    return LinkedAccount.objects.get(pk=account.pk)
