"""What both benchmark commands (`python -m bench`, `python -m bench.surface`) share."""

import json
import os
import secrets
import socket
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from tests.support.workers import Worker

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def recreate_database(url: str, *, drop_only: bool = False) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            connection.execute(f'CREATE DATABASE "{name}"')


def bench_environment(**settings: str) -> dict[str, str]:
    """The settings of a bench and its workers, `settings` over the common ones: a database of
    their own (`<DATABASE_URL's name>_bench`) on the server of `DATABASE_URL`, the Redis broker
    of `CELERY_BROKER_URL`, new keys."""
    database = urlsplit(os.environ.get("DATABASE_URL", ""))
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if database.scheme not in ("postgres", "postgresql", "pgsql") or not broker.startswith("redis"):
        sys.exit("bench needs DATABASE_URL=postgres://… and CELERY_BROKER_URL=redis://…")
    from cryptography.fernet import Fernet

    name = database.path.lstrip("/") or "connectapp"
    return {
        "DATABASE_URL": urlunsplit(database._replace(path=f"/{name}_bench")),
        "CELERY_BROKER_URL": broker,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "CONNECTAPP_RATE_LIMITS": "discogs=60/m",
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": tempfile.mkdtemp(prefix="connectapp-bench-static-"),
        **settings,
    }


def start_django(environment: dict[str, str]) -> None:
    """Set this process up with `environment`, in a new bench database, migrated."""
    os.environ.update(environment)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "standalone.settings")
    sys.path.insert(0, str(ROOT))
    recreate_database(environment["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def bench_user():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench")
    return user


def insert_links(count: int, due: float) -> None:
    """`count` Pinterest links in one INSERT … SELECT (the triggers schedule them); every
    `1/due`-th one is due, soonest first (the first of them a minute ago). Their tokens are one
    encrypted placeholder."""
    from django.db import connection

    from connectapp.connections import crypto

    placeholder = crypto.encrypt("bench-placeholder-token")
    every = max(1, round(1 / due)) if due > 0 else count + 1
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO connections_linkedaccount
              (user_id, provider, external_id, username, scopes, status, access_token,
               token_secret, refresh_token, expires_at, refresh_expires_at, last_error,
               created_at, updated_at)
            SELECT %s, 'pinterest', 'bench-' || n, 'bench' || n, '[]', 'active', %s, '', %s,
                   CASE WHEN n %% %s = 0
                        THEN now() - interval '1 minute' + (n %% 48) * interval '1 hour'
                        ELSE now() + interval '20 days' + (n %% 200) * interval '1 hour' END,
                   now() + interval '300 days', '', now(), now()
            FROM generate_series(1, %s) AS n
            """,
            [bench_user().pk, placeholder, placeholder, every, count],
        )
        cursor.execute("ANALYZE connections_linkedaccount")
        cursor.execute("ANALYZE connections_refreshschedule")


def start_worker(concurrency: int, environment: dict[str, str], log: Path, queue: str) -> "Worker":
    """Return a real prefork worker on `queue`; tests/support starts and stops it."""
    from tests.support.workers import WorkerDidNotStart, launch_worker

    try:
        return launch_worker(
            name="bench",
            concurrency=concurrency,
            queues=(queue,),
            env={**os.environ, **environment},
            log=log,
            loglevel="WARNING",
        )
    except WorkerDidNotStart as problem:
        sys.exit(f"the worker did not start ({problem}); see {log}")


def wait_for_work(worker: "Worker", done, count: int, seconds: float, log: Path) -> None:
    """Wait until the queryset `done` counts `count` rows, then stop the worker; give up after
    `seconds`, pointing at the worker's log."""
    deadline = time.monotonic() + seconds
    try:
        while done.count() < count:
            if time.monotonic() > deadline:
                sys.exit(f"the workers did not finish in time; see {log}")
            time.sleep(0.2)
    finally:
        worker.stop(timeout=30)


def send_json(handler: BaseHTTPRequestHandler, content: dict, status: int = 200) -> None:
    """Answer `handler`'s request with `content` as JSON, in one write."""
    body = json.dumps(content).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
