"""`python -m bench` (or `make bench`): connectapp against the physical floor, in one table.

1. One refresh in this process, token endpoint answering at once: the floor (one POST on a
   kept-alive session, then SELECT … FOR UPDATE and one UPDATE of a row with two Fernet
   encryptions, COMMIT, on a table with nothing else) against `services.refresh_queued()`,
   alternated, median of 3 repetitions: wall, CPU, SQL statements, Redis round trips, new TCP
   connections; and the HOT share of the link table's updates.
2. Real Celery workers (prefork) at concurrency 1, 2, 4, 8, with the token endpoint answering
   at once and after 50 ms: refreshes per second, and what a refresh costs through a worker.
3. The sweep at N links (a tenth due): per due link against the floor (one indexed SELECT of
   the due ids and a pipelined LPUSH of same-size messages), its peak Python memory.
4. The events table over a simulated year of hourly refreshes with the retention pruning.

The token endpoint is a minimal keep-alive HTTP server in this process (any refresh token
gets new tokens, for the account its refresh token names), with the identity route a refresh
asks afterwards (whose the new access token is), so what is measured is connectapp, not a
stand-in's OAuth validation. It
runs in a database of its own (`<DATABASE_URL's name>_bench`, created and dropped) and on the
Redis broker of `CELERY_BROKER_URL`.
"""

import argparse
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.common import bench_user, free_port, recreate_database

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ("bench-client", "bench-secret")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    numbers = lambda text: [int(part) for part in text.split(",") if part]  # noqa: E731
    parser.add_argument(
        "--sizes", type=numbers, default=[10_000, 100_000], help="sweep N, e.g. 10000,1000000"
    )
    parser.add_argument("--concurrency", type=numbers, default=[1, 2, 4, 8], help="e.g. 1,4,8")
    parser.add_argument("--refreshes", type=int, default=300, help="in-process, per repetition")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database")
    return parser.parse_args()


#: A bench token names its account: `pina_<account>.<random>` (access), `pinr_…` (refresh).
ACCOUNT_IN_REFRESH = re.compile(rb"refresh_token=pinr_([\w-]+)\.")
ACCOUNT_IN_ACCESS = re.compile(r"Bearer pina_([\w-]+)\.")


def bench_token(kind: str, account: str) -> str:
    return f"{kind}_{account}.{secrets.token_urlsafe(32)}"


class TokenEndpoint(BaseHTTPRequestHandler):
    """Answers every POST with new tokens after `latency` seconds, and `GET …/user_account`
    with the account the Bearer token names, keeping the connection."""

    protocol_version = "HTTP/1.1"
    # One write per answer, sent at once (no Nagle delay waiting for the client's ACK).
    wbufsize = -1
    disable_nagle_algorithm = True
    latency = 0.0

    def do_POST(self) -> None:
        form = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.latency:
            time.sleep(self.latency)
        named = ACCOUNT_IN_REFRESH.search(form)
        account = named[1].decode() if named else "anyone"
        self.answer(
            {
                "access_token": bench_token("pina", account),
                "refresh_token": bench_token("pinr", account),
                "token_type": "bearer",
                "expires_in": 30 * 24 * 3600,
                "refresh_token_expires_in": 365 * 24 * 3600,
                "scope": "user_accounts:read",
            }
        )

    def do_GET(self) -> None:
        named = ACCOUNT_IN_ACCESS.match(self.headers.get("Authorization", ""))
        if not self.path.endswith("/user_account") or not named:
            self.answer({"code": 401, "message": "Authentication failed."}, status=401)
            return
        self.answer({"id": named[1], "username": named[1], "account_type": "PINNER"})

    def answer(self, content: dict, status: int = 200) -> None:
        body = json.dumps(content).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def serve_token_endpoint(port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), TokenEndpoint)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def bench_environment(token_port: int) -> dict[str, str]:
    """The settings of this process and its workers, in a database of their own."""
    database = urlsplit(os.environ.get("DATABASE_URL", ""))
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if database.scheme not in ("postgres", "postgresql", "pgsql") or not broker.startswith("redis"):
        sys.exit("bench needs DATABASE_URL=postgres://… and CELERY_BROKER_URL=redis://…")
    from cryptography.fernet import Fernet

    name = database.path.lstrip("/") or "connectapp"
    return {
        "DATABASE_URL": urlunsplit(database._replace(path=f"/{name}_bench")),
        "CELERY_BROKER_URL": broker,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "CONNECTAPP_SANDBOX": "false",
        "CONNECTAPP_RATE_LIMITS": "discogs=60/m",
        "PINTEREST_CLIENT_ID": CLIENT[0],
        "PINTEREST_CLIENT_SECRET": CLIENT[1],
        "PINTEREST_API_URL": f"http://127.0.0.1:{token_port}/v5",
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": tempfile.mkdtemp(prefix="connectapp-bench-static-"),
    }


# --- counting what a piece of code does -------------------------------------------------------


class Counts:
    def __init__(self) -> None:
        self.sql = self.redis = self.tcp = 0


@contextmanager
def counted():
    """Count SQL statements, Redis round trips and new TCP connections (HTTP, PostgreSQL,
    Redis) made in this thread meanwhile, without keeping them."""
    import redis.connection
    import urllib3.util.connection
    from django.db import connection
    from django.db.backends.signals import connection_created

    counts = Counts()
    main = threading.get_ident()
    mine = lambda: threading.get_ident() == main  # noqa: E731

    def statement(execute, sql, params, many, context):
        counts.sql += 1
        return execute(sql, params, many, context)

    send = redis.connection.AbstractConnection.send_packed_command
    connect = redis.connection.AbstractConnection._connect
    create = urllib3.util.connection.create_connection

    def sent(self, command, check_health=True):
        counts.redis += mine()
        return send(self, command, check_health)

    def redis_connected(self):
        counts.tcp += mine()
        return connect(self)

    def http_connected(*args, **kwargs):
        counts.tcp += mine()
        return create(*args, **kwargs)

    def database_connected(**kwargs):
        counts.tcp += mine()

    redis.connection.AbstractConnection.send_packed_command = sent
    redis.connection.AbstractConnection._connect = redis_connected
    urllib3.util.connection.create_connection = http_connected
    connection_created.connect(database_connected)
    try:
        with connection.execute_wrapper(statement):
            yield counts
    finally:
        redis.connection.AbstractConnection.send_packed_command = send
        redis.connection.AbstractConnection._connect = connect
        urllib3.util.connection.create_connection = create
        connection_created.disconnect(database_connected)


@contextmanager
def timed():
    """Yield a dict that receives `wall` and `cpu` seconds when the block ends."""
    spent = {}
    wall, cpu = time.perf_counter(), time.process_time()
    yield spent
    spent["wall"] = time.perf_counter() - wall
    spent["cpu"] = time.process_time() - cpu


def table_updates(table: str) -> tuple[int, int]:
    """Return the table's (updates, HOT updates) so far, this backend's included."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %s", [table]
        )
        return cursor.fetchone()


# --- links ------------------------------------------------------------------------------------


def reset_links() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE connections_connectionevent, connections_linkedaccount CASCADE")


def insert_links(count: int, due: float) -> None:
    """`count` Pinterest links in one INSERT … SELECT (the triggers schedule them); every
    `1/due`-th one is due. Their tokens are one encrypted placeholder, which the bench's token
    endpoint takes as any other."""
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


def give_account_tokens(ids: list[int]) -> None:
    """Refresh tokens naming each link's account, so the bench's identity route answers with
    the link's own external id (a refresh checks whom its new token belongs to)."""
    from connectapp.connections.models import LinkedAccount

    links = list(LinkedAccount.objects.filter(pk__in=ids).only("pk", "external_id"))
    for link in links:
        link.refresh_token = bench_token("pinr", link.external_id)
    LinkedAccount.objects.bulk_update(links, ["refresh_token"], batch_size=500)


# --- 1. one refresh in this process -----------------------------------------------------------


FLOOR_TABLE = "bench_floor"


def make_floor_table(count: int) -> None:
    """The floor's rows: a token pair and an expiry, a primary key, nothing else."""
    from django.db import connection

    from connectapp.connections import crypto

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {FLOOR_TABLE} (id bigint PRIMARY KEY, access_token text, "
            "refresh_token text, expires_at timestamptz) WITH (fillfactor = 80)"
        )
        cursor.execute(
            f"INSERT INTO {FLOOR_TABLE} SELECT n, %s, %s, now() FROM generate_series(1, %s) n",
            [crypto.encrypt("a"), crypto.encrypt("r"), count],
        )


def floor_refreshes(session, token_url: str, ids: list[int]) -> None:
    """The least a correct refresh does: ask, then lock, write both tokens encrypted, commit."""
    from django.db import connection, transaction
    from django.utils import timezone

    from connectapp.connections import crypto

    for row in ids:
        answer = session.post(
            token_url,
            data={"grant_type": "refresh_token", "refresh_token": "r"},
            auth=CLIENT,
            timeout=10,
        ).json()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT refresh_token FROM {FLOOR_TABLE} WHERE id = %s FOR UPDATE", [row]
            )
            cursor.execute(
                f"UPDATE {FLOOR_TABLE} SET access_token = %s, refresh_token = %s, expires_at = %s "
                "WHERE id = %s",
                [
                    crypto.encrypt(answer["access_token"]),
                    crypto.encrypt(answer["refresh_token"]),
                    timezone.now(),
                    row,
                ],
            )


def connectapp_refreshes(ids: list[int]) -> None:
    from connectapp.connections import services

    for link_id in ids:
        if services.refresh_queued(link_id) != "refreshed":
            sys.exit(f"link {link_id} was not refreshed")


def in_process(refreshes: int, repetitions: int = 3) -> dict:
    """Alternate floor and connectapp runs over the same rows (made due again between runs,
    as time does); return the medians per refresh, and the HOT share of the runs' updates."""
    import requests
    from django.utils import timezone

    from connectapp import conf
    from connectapp.connections.models import LinkedAccount

    reset_links()
    insert_links(refreshes, due=1.0)
    ids = list(LinkedAccount.objects.order_by("pk").values_list("pk", flat=True))
    give_account_tokens(ids)
    make_floor_table(len(ids))
    rows = list(range(1, len(ids) + 1))
    session = requests.Session()
    token_url = f"{conf.value('PINTEREST_API_URL')}/oauth/token"
    runs = {"floor": [], "connectapp": []}
    updates = {"floor": [0, 0], "connectapp": [0, 0]}
    tables = {"floor": FLOOR_TABLE, "connectapp": "connections_linkedaccount"}
    for repetition in range(repetitions + 1):  # the first is the warm-up
        LinkedAccount.objects.filter(pk__in=ids).update(expires_at=timezone.now())
        for name in ("floor", "connectapp"):
            before = table_updates(tables[name])
            with counted() as counts, timed() as spent:
                if name == "floor":
                    floor_refreshes(session, token_url, rows)
                else:
                    connectapp_refreshes(ids)
            after = table_updates(tables[name])
            if repetition:
                runs[name].append((spent, counts))
                updates[name][0] += after[0] - before[0]
                updates[name][1] += after[1] - before[1]

    def median(name: str, measure) -> float:
        return statistics.median(measure(spent, counts) for spent, counts in runs[name])

    return {
        name: {
            "wall": median(name, lambda s, c: s["wall"]) / refreshes,
            "cpu": median(name, lambda s, c: s["cpu"]) / refreshes,
            "sql": median(name, lambda s, c: c.sql) / refreshes,
            "redis": median(name, lambda s, c: c.redis) / refreshes,
            "tcp": median(name, lambda s, c: c.tcp) / refreshes,
            "hot": updates[name][1] / max(1, updates[name][0]),
        }
        for name in runs
    }


# --- 2. real workers --------------------------------------------------------------------------


def through_workers(concurrency: int, latency: float, environment: dict, log: Path) -> dict:
    """Return refreshes per second and the wall time per refresh of one worker process."""
    from django.db.models import Max, Min

    from connectapp.connections import tasks
    from connectapp.connections.models import LinkedAccount
    from tests.support.workers import WorkerDidNotStart, launch_worker, purge_queues

    count = max(120, 60 * concurrency) if latency else 400
    reset_links()
    insert_links(count, due=1.0)
    give_account_tokens(list(LinkedAccount.objects.values_list("pk", flat=True)))
    purge_queues()
    TokenEndpoint.latency = latency
    assert tasks.refresh_due() == count
    try:
        worker = launch_worker(
            name="bench",
            concurrency=concurrency,
            queues=("providers",),
            env={**os.environ, **environment},
            log=log,
            loglevel="WARNING",
        )
    except WorkerDidNotStart as problem:
        sys.exit(f"the worker did not start ({problem}); see {log}")
    refreshed = LinkedAccount.objects.filter(last_refreshed_at__isnull=False)
    deadline = time.monotonic() + 120 + count * (latency + 0.05)
    try:
        while refreshed.count() < count:
            if time.monotonic() > deadline:
                sys.exit(f"refreshes did not finish in time; see {log}")
            time.sleep(0.2)
    finally:
        worker.stop(timeout=30)
        TokenEndpoint.latency = 0.0
    span = refreshed.aggregate(first=Min("last_refreshed_at"), last=Max("last_refreshed_at"))
    elapsed = (span["last"] - span["first"]).total_seconds()
    rate = (count - 1) / elapsed
    return {"rate": rate, "per_refresh": concurrency / rate}


# --- 3. the sweep -----------------------------------------------------------------------------


def sweep(size: int) -> dict:
    """Return the sweep's and the floor's seconds per due link at `size` links, and its memory."""
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from connectapp import conf
    from connectapp.celery import app
    from connectapp.connections import tasks
    from connectapp.connections.models import RefreshSchedule
    from tests.support.workers import purge_queues

    reset_links()
    insert_links(size, due=0.1)
    purge_queues()
    with counted() as counts, timed() as spent:
        due = tasks.refresh_due()
    with app.connection_for_write() as broker:
        client = broker.default_channel.client
        message = client.lindex(settings.CONNECTAPP_PROVIDER_QUEUE, 0)
        purge_queues()
        # The floor: the due ids by the same index, and same-size messages pipelined.
        RefreshSchedule.objects.update(queued_at=None)
        with timed() as floor:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT link_id FROM connections_refreshschedule WHERE provider = 'pinterest' "
                    "AND due_at <= %s AND queued_at IS NULL ORDER BY due_at",
                    [timezone.now() + conf.value("REFRESH_WINDOW_SECONDS")],
                )
                ids = [row[0] for row in cursor.fetchall()]
            pipe = client.pipeline(transaction=False)
            for n, _ in enumerate(ids, 1):
                pipe.lpush("bench:floor", message)
                if n % 1000 == 0:
                    pipe.execute()
            pipe.execute()
        client.delete("bench:floor")
    assert len(ids) == due
    # Memory on a second, identical sweep: tracemalloc slows everything down.
    purge_queues()
    RefreshSchedule.objects.update(queued_at=None)
    tracemalloc.start()
    assert tasks.refresh_due() == due
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    purge_queues()
    return {
        "due": due,
        "sweep": spent["wall"] / due,
        "floor": floor["wall"] / due,
        "sql": counts.sql,
        "seconds": spent["wall"],
        "peak": peak,
    }


# --- 4. the events table over a year ----------------------------------------------------------


def events_over_a_year(links: int = 200, days: int = 365, step: int = 30) -> list[dict]:
    """Hourly refresh events of `links` links, `step` days at a time with back-dated times,
    pruned (retention 90 days) and vacuumed after each step, as the hourly task and autovacuum
    would; return the rows and bytes after each step."""
    from datetime import timedelta

    from django.db import connection

    from connectapp.connections import services

    reset_links()
    insert_links(links, due=0)
    sizes = []
    start = -days
    while start < 0:
        end = min(0, start + step)
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO connections_connectionevent
                  (account_id, kind, outcome, detail, actor, created_at)
                SELECT l.id, 'refreshed', 'ok', '', 'worker', h
                FROM connections_linkedaccount l,
                     generate_series(now() + %s * interval '1 day',
                                     now() + %s * interval '1 day' - interval '1 hour',
                                     interval '1 hour') AS h
                """,
                [start, end],
            )
        # Time moves on by `end` days: prune as the task would then.
        services.prune_routine_events(timedelta(days=90 - end))
        with connection.cursor() as cursor:
            cursor.execute("VACUUM connections_connectionevent")
            cursor.execute("SELECT count(*) FROM connections_connectionevent")
            rows = cursor.fetchone()[0]
            cursor.execute("SELECT pg_total_relation_size('connections_connectionevent')")
            size = cursor.fetchone()[0]
        sizes.append({"day": days + end, "rows": rows, "bytes": size})
        start = end
    return sizes


# --- the table --------------------------------------------------------------------------------


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[n]) for row in rows) for n in range(len(rows[0]))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def main() -> None:
    args = parse_args()
    token_port = free_port()
    environment = bench_environment(token_port)
    os.environ.update(environment)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectapp.settings")
    sys.path.insert(0, str(ROOT))
    recreate_database(environment["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    server = serve_token_endpoint(token_port)
    log = Path(tempfile.mkdtemp(prefix="connectapp-bench-")) / "workers.log"
    print(f"bench database {urlsplit(environment['DATABASE_URL']).path[1:]}; worker log {log}")
    rows = [["measure", "connectapp", "floor", "ratio", "target"]]
    try:
        print(f"in-process refreshes, 3 × {args.refreshes} …", flush=True)
        one = in_process(args.refreshes)
        app, floor = one["connectapp"], one["floor"]
        rows += [
            ["refresh in-process, wall", ms(app["wall"]), ms(floor["wall"]),
             f"{app['wall'] / floor['wall']:.2f}×", "≤ 2.0×"],
            ["refresh in-process, CPU", ms(app["cpu"]), ms(floor["cpu"]),
             f"{app['cpu'] / floor['cpu']:.2f}×", "≤ 2.0×"],
            ["refresh: SQL statements", f"{app['sql']:g}", f"{floor['sql']:g}", "", ""],
            ["refresh: Redis round trips", f"{app['redis']:g}", f"{floor['redis']:g}", "", ""],
            ["refresh: new TCP connections", f"{app['tcp']:g}", f"{floor['tcp']:g}", "", ""],
            ["HOT share of the row's updates", f"{app['hot']:.0%}", f"{floor['hot']:.0%}", "",
             "≥ 90 %"],
        ]  # fmt: skip
        rates = {}
        for latency in (0.0, 0.05):
            for concurrency in args.concurrency:
                print(f"workers: concurrency {concurrency}, {latency * 1000:.0f} ms …", flush=True)
                rates[latency, concurrency] = through_workers(
                    concurrency, latency, environment, log
                )
        for latency in (0.0, 0.05):
            for concurrency in args.concurrency:
                run = rates[latency, concurrency]
                rows.append(
                    [f"prefork c={concurrency}, {latency * 1000:.0f} ms: refreshes/s",
                     f"{run['rate']:.1f}", "", "", ""]
                )  # fmt: skip
        if 1 in args.concurrency:
            over = rates[0.0, 1]["per_refresh"] - app["wall"]
            rows.append(
                ["prefork c=1, 0 ms: per refresh over in-process", ms(over), "", "", "≤ 1.5 ms"]
            )
        if {1, 8} <= set(args.concurrency):
            scale = rates[0.05, 8]["rate"] / rates[0.05, 1]["rate"]
            rows.append(["50 ms: 8 workers vs 1", f"{scale:.1f}×", "", "", "≥ 7×"])
        for size in args.sizes:
            print(f"sweep over {size:,} links …", flush=True)
            swept = sweep(size)
            rows += [
                [f"sweep {size:,} links ({swept['due']:,} due): per due link",
                 ms(swept["sweep"]), ms(swept["floor"]), f"{swept['sweep'] / swept['floor']:.2f}×",
                 "≤ 3×"],
                [f"sweep {size:,} links: total, SQL, peak memory",
                 f"{swept['seconds']:.2f} s, {swept['sql']} SQL, {swept['peak'] / 2**20:.1f} MiB",
                 "", "", "flat in N"],
            ]  # fmt: skip
        print("events over a simulated year …", flush=True)
        year = events_over_a_year()
        scale = 100_000 / 200
        for point in year:
            if point["day"] in (90, 180, 270, 365) or point is year[-1]:
                rows.append(
                    [f"events after day {point['day']} (100k links, from 200)",
                     f"{point['rows'] * scale / 1e6:.0f} M rows, "
                     f"{point['bytes'] * scale / 2**30:.1f} GiB", "", "",
                     "flat after day 90"]
                )  # fmt: skip
    finally:
        server.shutdown()
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            recreate_database(environment["DATABASE_URL"], drop_only=True)
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
