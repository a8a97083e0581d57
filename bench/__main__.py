"""`python -m bench` (or `make bench`): connectapp against the physical floor, in one table.

1. One refresh in this process, token endpoint answering at once: the floor (one POST on a
   kept-alive session, then SELECT … FOR UPDATE and one UPDATE of a row with two Fernet
   encryptions, COMMIT, on a table with nothing else) against `services.refresh_queued()`, in
   rounds that run each once (9 of 100 refreshes): medians of wall, CPU, SQL statements, Redis
   round trips and new TCP connections per refresh, the median of the rounds' ratios, and the
   HOT share of the link table's updates. Also against the floor plus
   the identity GET that every per-user refresh makes since issue 16 (the floor predates it).
2. Real Celery workers (prefork) at concurrency 1, 2, 4, 8, with the token endpoint answering
   at once and after 50 ms: refreshes per second (medians of rounds that run every kind once,
   so a ratio compares runs made at the same time), and what a refresh costs through a worker,
   beside what Celery's own no-op task costs one.
3. The sweep at N links (a tenth due): per due link against the floor (one indexed SELECT of
   the due ids and a pipelined LPUSH of same-size messages), alternated, median of 3; its
   peak Python memory.
4. The events table over a simulated year of hourly refreshes with the retention pruning.

The token endpoint is a minimal keep-alive HTTP server in a process of its own (any refresh token
gets new tokens, for the account its refresh token names), with the identity route a refresh
asks afterwards (whose the new access token is), so what is measured is connectapp, not a
stand-in's OAuth validation. It
runs in a database of its own (`<DATABASE_URL's name>_bench`, created and dropped) and on the
Redis broker of `CELERY_BROKER_URL`.
"""

import argparse
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import (
    bench_environment,
    free_port,
    insert_links,
    recreate_database,
    start_django,
    start_worker,
    wait_for_work,
)
from bench.token_endpoint import TokenServer, bench_token

CLIENT = ("bench-client", "bench-secret")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    numbers = lambda text: [int(part) for part in text.split(",") if part]  # noqa: E731
    parser.add_argument(
        "--sizes", type=numbers, default=[10_000, 100_000], help="sweep N, e.g. 10000,1000000"
    )
    parser.add_argument("--concurrency", type=numbers, default=[1, 2, 4, 8], help="e.g. 1,4,8")
    parser.add_argument(
        "--worker-repetitions", type=int, default=3, help="worker runs of each kind, alternated"
    )
    parser.add_argument("--refreshes", type=int, default=100, help="in-process, per round")
    parser.add_argument("--rounds", type=int, default=9, help="in-process rounds after a warm-up")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database")
    return parser.parse_args()


def environment_for(token_port: int) -> dict[str, str]:
    """The settings of this process and its workers: production's, with Pinterest pointed at
    the bench's token endpoint."""
    return bench_environment(
        DEBUG="false",
        CONNECTAPP_SANDBOX="false",
        PINTEREST_CLIENT_ID=CLIENT[0],
        PINTEREST_CLIENT_SECRET=CLIENT[1],
        PINTEREST_API_URL=f"http://127.0.0.1:{token_port}/v5",
    )


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


def floor_refreshes(session, token_url: str, ids: list[int], identity_url: str = "") -> None:
    """The least a correct refresh does: ask, then lock, write both tokens encrypted, commit.
    With `identity_url`, it also asks whose the new access token is, as issue 16 requires of
    every refresh where the token answer does not say (Pinterest's does not)."""
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
        if identity_url:
            bearer = {"Authorization": f"Bearer {answer['access_token']}"}
            session.get(identity_url, headers=bearer, timeout=10).json()["id"]
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


def in_process(refreshes: int, rounds: int) -> dict:
    """Run the floor, the floor with the identity call and connectapp over the same rows (made
    due again before each round, as time does), each once a round, in an order that turns from
    round to round after a warm-up round: a drift of this shared machine's speed falls on all
    three alike. Return each one's medians per refresh over the rounds, the medians of the
    rounds' ratios to the floors (each ratio compares runs made moments apart), and the HOT
    share of the runs' updates."""
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
    identity_url = f"{conf.value('PINTEREST_API_URL')}/user_account"
    runs = {
        "floor": lambda: floor_refreshes(session, token_url, rows),
        "floor + identity": lambda: floor_refreshes(session, token_url, rows, identity_url),
        "connectapp": lambda: connectapp_refreshes(ids),
    }
    spent = {name: [] for name in runs}
    updates = {name: [0, 0] for name in runs}
    tables = {"connectapp": "connections_linkedaccount"}
    order = list(runs)
    for round_ in range(rounds + 1):  # the first is the warm-up
        LinkedAccount.objects.filter(pk__in=ids).update(expires_at=timezone.now())
        for name in order[round_ % 3 :] + order[: round_ % 3]:
            before = table_updates(tables.get(name, FLOOR_TABLE))
            with counted() as counts, timed() as times:
                runs[name]()
            after = table_updates(tables.get(name, FLOOR_TABLE))
            if round_:
                spent[name].append((times["wall"] / refreshes, times["cpu"] / refreshes, counts))
                updates[name][0] += after[0] - before[0]
                updates[name][1] += after[1] - before[1]

    def median(values) -> float:
        return statistics.median(list(values))

    results = {
        name: {
            "wall": median(wall for wall, _, _ in spent[name]),
            "cpu": median(cpu for _, cpu, _ in spent[name]),
            "sql": median(counts.sql / refreshes for _, _, counts in spent[name]),
            "redis": median(counts.redis / refreshes for _, _, counts in spent[name]),
            "tcp": median(counts.tcp / refreshes for _, _, counts in spent[name]),
            "hot": updates[name][1] / max(1, updates[name][0]),
        }
        for name in runs
    }
    for floor in ("floor", "floor + identity"):
        pairs = list(zip(spent["connectapp"], spent[floor], strict=True))
        results["connectapp"][f"wall / {floor}"] = median(app[0] / low[0] for app, low in pairs)
        results["connectapp"][f"cpu / {floor}"] = median(app[1] / low[1] for app, low in pairs)
    return results


# --- 2. real workers --------------------------------------------------------------------------


def through_workers(
    concurrency: int, latency: float, environment: dict, log: Path, server: TokenServer
) -> dict:
    """Return refreshes per second and the wall time per refresh of one worker process."""
    from django.db.models import Max, Min

    from connectapp import conf
    from connectapp.connections import tasks
    from connectapp.connections.models import LinkedAccount
    from tests.support.workers import purge_queues

    count = max(120, 60 * concurrency) if latency else 400
    reset_links()
    insert_links(count, due=1.0)
    give_account_tokens(list(LinkedAccount.objects.values_list("pk", flat=True)))
    purge_queues()
    server.latency = latency
    assert tasks.refresh_due() == count
    worker = start_worker(concurrency, environment, log, conf.value("PROVIDER_QUEUE"))
    refreshed = LinkedAccount.objects.filter(last_refreshed_at__isnull=False)
    wait_for_work(worker, refreshed, count, 120 + count * (latency + 0.05), log)
    server.latency = 0.0
    span = refreshed.aggregate(first=Min("last_refreshed_at"), last=Max("last_refreshed_at"))
    elapsed = (span["last"] - span["first"]).total_seconds()
    rate = (count - 1) / elapsed
    return {"rate": rate, "per_refresh": concurrency / rate}


def workers(
    concurrencies: list[int], repetitions: int, environment: dict, log: Path, server: TokenServer
) -> dict:
    """Return `through_workers` by (concurrency, latency): medians of `repetitions` rounds,
    each round running every kind once, so a machine busy for a while slows all kinds alike
    and a ratio of two compares runs made at the same time."""
    runs: dict[tuple[int, float], list[dict]] = {}
    for repetition in range(1, repetitions + 1):
        for latency in (0.0, 0.05):
            for concurrency in concurrencies:
                print(
                    f"workers: concurrency {concurrency}, {latency * 1000:.0f} ms, "
                    f"round {repetition}/{repetitions} …",
                    flush=True,
                )
                run = through_workers(concurrency, latency, environment, log, server)
                runs.setdefault((concurrency, latency), []).append(run)
    return {
        kind: {name: statistics.median(run[name] for run in kind_runs) for name in kind_runs[0]}
        for kind, kind_runs in sorted(runs.items(), key=lambda item: (item[0][1], item[0][0]))
    }


def celery_noop(environment: dict, log: Path, count: int = 2000, repetitions: int = 3) -> float:
    """Return the wall time per task of one worker process (concurrency 1) running Celery's own
    no-op (`celery.accumulate`) from a full queue: what Celery itself costs a task on this
    machine, which no task of connectapp's can go below (median of `repetitions`)."""
    from connectapp.celery import app
    from connectapp.connections.infra import broker
    from tests.support.workers import purge_queues

    noop = app.tasks["celery.accumulate"]
    queue = broker._queue_of(noop)
    runs = []
    for _ in range(repetitions):
        purge_queues()
        broker.publish_each(noop, list(range(count)))
        worker = start_worker(1, environment, log, queue)
        try:
            with app.connection_for_write() as connection:
                client = connection.default_channel.client
                while (waiting := client.llen(queue)) >= count:
                    time.sleep(0.001)
                started = time.perf_counter()
                while client.llen(queue):
                    time.sleep(0.001)
                runs.append((time.perf_counter() - started) / waiting)
        finally:
            worker.stop(timeout=30)
    purge_queues()
    return statistics.median(runs)


# --- 3. the sweep -----------------------------------------------------------------------------


def sweep(size: int, repetitions: int = 3) -> dict:
    """Return the sweep's and the floor's seconds per due link at `size` links (medians of
    `repetitions` alternated runs over the same links, their marks cleared and the table
    vacuumed before each, as autovacuum would), and the sweep's peak Python memory."""
    from django.db import connection
    from django.utils import timezone

    from connectapp import conf
    from connectapp.celery import app
    from connectapp.connections import tasks
    from connectapp.connections.models import RefreshSchedule
    from tests.support.workers import purge_queues

    def unqueued() -> None:
        purge_queues()
        RefreshSchedule.objects.filter(queued_at__isnull=False).update(queued_at=None)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE connections_refreshschedule")

    reset_links()
    insert_links(size, due=0.1)
    runs = []
    for _ in range(repetitions):
        unqueued()
        with counted() as counts, timed() as spent:
            due = tasks.refresh_due()
        with app.connection_for_write() as broker:
            client = broker.default_channel.client
            message = client.lindex(conf.value("PROVIDER_QUEUE"), 0)
            unqueued()
            # The floor: the due ids by the same index, and same-size messages pipelined.
            with timed() as floor:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT link_id FROM connections_refreshschedule "
                        "WHERE provider = 'pinterest' AND due_at <= %s AND queued_at IS NULL "
                        "ORDER BY due_at",
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
        runs.append((spent["wall"], floor["wall"], counts.sql))
    # Memory on one more sweep: tracemalloc slows everything down.
    unqueued()
    tracemalloc.start()
    assert tasks.refresh_due() == due
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    purge_queues()
    seconds = statistics.median(run[0] for run in runs)
    return {
        "due": due,
        "sweep": seconds / due,
        "floor": statistics.median(run[1] for run in runs) / due,
        "ratio": statistics.median(run[0] / run[1] for run in runs),
        "sql": runs[0][2],
        "seconds": seconds,
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
    environment = environment_for(token_port)
    start_django(environment)
    server = TokenServer(token_port)
    log = Path(tempfile.mkdtemp(prefix="connectapp-bench-")) / "workers.log"
    print(f"bench database {urlsplit(environment['DATABASE_URL']).path[1:]}; worker log {log}")
    rows = [["measure", "connectapp", "floor", "ratio", "target"]]
    try:
        print(f"in-process refreshes, {args.rounds} rounds × {args.refreshes} …", flush=True)
        one = in_process(args.refreshes, args.rounds)
        app, floor, checked = one["connectapp"], one["floor"], one["floor + identity"]
        rows += [
            ["refresh in-process, wall", ms(app["wall"]), ms(floor["wall"]),
             f"{app['wall / floor']:.2f}×", "≤ 2.0×"],
            ["refresh in-process, CPU", ms(app["cpu"]), ms(floor["cpu"]),
             f"{app['cpu / floor']:.2f}×", "≤ 2.0×"],
            ["  against floor + identity call, wall", ms(app["wall"]), ms(checked["wall"]),
             f"{app['wall / floor + identity']:.2f}×", ""],
            ["  against floor + identity call, CPU", ms(app["cpu"]), ms(checked["cpu"]),
             f"{app['cpu / floor + identity']:.2f}×", ""],
            ["refresh: SQL statements", f"{app['sql']:g}", f"{floor['sql']:g}", "", ""],
            ["refresh: Redis round trips", f"{app['redis']:g}", f"{floor['redis']:g}", "", ""],
            ["refresh: new TCP connections", f"{app['tcp']:g}", f"{floor['tcp']:g}", "", ""],
            ["HOT share of the row's updates", f"{app['hot']:.0%}", f"{floor['hot']:.0%}", "",
             "≥ 90 %"],
        ]  # fmt: skip
        rates = workers(args.concurrency, args.worker_repetitions, environment, log, server)
        for (concurrency, latency), run in rates.items():
            rows.append(
                [f"prefork c={concurrency}, {latency * 1000:.0f} ms: refreshes/s",
                 f"{run['rate']:.1f}", "", "", ""]
            )  # fmt: skip
        if 1 in args.concurrency:
            over = rates[1, 0.0]["per_refresh"] - app["wall"]
            noop = celery_noop(environment, log)
            rows += [
                ["prefork c=1, 0 ms: per refresh over in-process", ms(over), "", "",
                 "≤ 1.5 ms"],
                ["  of it, Celery's own no-op task (c=1)", ms(noop), "", "", ""],
            ]  # fmt: skip
        if {1, 8} <= set(args.concurrency):
            scale = rates[8, 0.05]["rate"] / rates[1, 0.05]["rate"]
            rows.append(["50 ms: 8 workers vs 1", f"{scale:.1f}×", "", "", "≥ 7×"])
        for size in args.sizes:
            print(f"sweep over {size:,} links …", flush=True)
            swept = sweep(size)
            rows += [
                [f"sweep {size:,} links ({swept['due']:,} due): per due link",
                 ms(swept["sweep"]), ms(swept["floor"]), f"{swept['ratio']:.2f}×",
                 "≤ 3×"],
                [f"sweep {size:,} links: total, SQL, peak memory",
                 f"{swept['seconds']:.2f} s, {swept['sql']} SQL, {swept['peak'] / 2**20:.1f} MiB",
                 "", "", "flat in N" + ("; ≤ 2 s" if size >= 1_000_000 else "")],
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
        server.stop()
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            recreate_database(environment["DATABASE_URL"], drop_only=True)
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
