"""`python -m bench.surface` (run by `make bench` after `python -m bench`): what a site's other
code meets, one command, one table each.

1. The backend API (`bench/api.py`): the credentials endpoint's requests per second and p50/p99
   for a link that needs no refresh, and the proxy's added latency over a direct call.
2. Events: the outbox INSERTs a refresh makes (one) and the time that INSERT adds to it, and
   events delivered per second by real workers to a receiver on 127.0.0.1 (signed, over HTTP;
   the bench process only writes the outbox rows and publishes their fan-out).

It runs in a database of its own (`<DATABASE_URL's name>_bench`, created and dropped) and on
the Redis broker of `CELERY_BROKER_URL`; the Pinterest stand-in is served from this process.
"""

import argparse
import tempfile
import threading
import time
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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.surface", description=__doc__.split("\n")[0]
    )
    numbers = lambda text: [int(part) for part in text.split(",") if part]  # noqa: E731
    parser.add_argument("--concurrency", type=numbers, default=[1, 4], help="e.g. 1,4")
    parser.add_argument("--latency", type=float, default=0.05, help="stand-in latency, seconds")
    parser.add_argument("--api-requests", type=int, default=2000, help="API requests per run")
    parser.add_argument("--api-clients", type=numbers, default=[1, 4], help="e.g. 1,4")
    parser.add_argument("--events", type=int, default=2000, help="events in the webhook burst")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database")
    return parser.parse_args()


def environment_for(port: int) -> dict[str, str]:
    """The settings of this process: the stand-ins on, which the settings allow only under
    DEBUG (turned off again once loaded, see `main`)."""
    return bench_environment(
        DEBUG="true",
        CONNECTAPP_SANDBOX="true",
        CONNECTAPP_SANDBOX_URL=f"http://127.0.0.1:{port}/sandbox",
        CONNECTAPP_API_RATE_LIMIT="0/60",
        CONNECTAPP_WEBHOOK_ALLOW_PRIVATE="true",  # the bench's receiver is on 127.0.0.1
        CONNECTAPP_WEBHOOK_ENDPOINT_CONCURRENCY="16",
    )


def worker_environment(environment: dict[str, str]) -> dict[str, str]:
    """Return the workers' settings: production-like (DEBUG and the sandbox off), with Pinterest
    pointed at the stand-in this process serves."""
    base = environment["CONNECTAPP_SANDBOX_URL"]
    return {
        **environment,
        "DEBUG": "false",
        "CONNECTAPP_SANDBOX": "false",
        "PINTEREST_CLIENT_ID": "sandbox-pinterest-client",
        "PINTEREST_CLIENT_SECRET": "sandbox-pinterest-secret",
        "PINTEREST_API_URL": f"{base}/pinterest/v5",
        "PINTEREST_AUTHORIZE_URL": f"{base}/pinterest/oauth/",
    }


def serve_in_thread(port: int):
    """The app, stand-ins included, on a threaded WSGI server in this process."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args) -> None:
            pass

    class Server(ThreadedWSGIServer):
        request_queue_size = 128

    server = Server(("127.0.0.1", port), QuietHandler, allow_reuse_address=True)
    server.set_app(get_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@contextmanager
def counted_queries():
    """Counts SQL statements without keeping them (so memory figures stay honest)."""
    from django.db import connection

    count = [0]

    def counter(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        yield count


def reset_links() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE connections_apiusage, connections_deliveryattempt, "
            "connections_webhookdelivery, connections_announcedevent, "
            "connections_connectionevent, connections_linkedaccount CASCADE"
        )


def give_real_tokens(ids: list[int]) -> None:
    """Tokens the stand-in issued, and the stand-in's id of their account, so these links can
    really be refreshed (a refresh checks whom the new token belongs to)."""
    from connectapp.connections.models import LinkedAccount
    from connectapp.sandbox.pinterest import standin

    accounts = list(LinkedAccount.objects.filter(pk__in=ids))
    for account in accounts:
        answer = standin.issue_tokens(account.username)
        account.access_token = answer["access_token"]
        account.refresh_token = answer["refresh_token"]
        account.external_id = standin.user_id(account.username)
    LinkedAccount.objects.bulk_update(
        accounts, ["access_token", "refresh_token", "external_id"], batch_size=500
    )


def outbox_row(samples: int = 50) -> dict:
    """What announcing costs a refresh: its outbox INSERTs and their time, over `samples`."""
    from connectapp.connections import services
    from connectapp.connections.models import LinkedAccount
    from connectapp.connections.services import events as link_events

    reset_links()
    insert_links(samples, due=1.0)
    ids = list(LinkedAccount.objects.values_list("pk", flat=True))
    give_real_tokens(ids)
    spent: list[float] = []
    emit = link_events.emit

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return emit(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    link_events.emit = timed
    inserts = []
    started = time.perf_counter()
    try:
        for account_id in ids:
            with counted_statements('INSERT INTO "connections_announcedevent"') as count:
                assert services.refresh(account_id, force=True) == "refreshed"
            inserts.append(count[0])
    finally:
        link_events.emit = emit
    total = time.perf_counter() - started
    return {
        "refreshes": str(samples),
        "outbox INSERTs per refresh": "/".join(map(str, sorted(set(inserts)))),
        "outbox ms per refresh": f"{sum(spent) / samples * 1000:.2f}",
        "refresh ms (stand-in latency incl.)": f"{total / samples * 1000:.1f}",
    }


@contextmanager
def counted_statements(prefix: str):
    from django.db import connection

    count = [0]

    def counter(execute, sql, params, many, context):
        count[0] += sql.startswith(prefix)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        yield count


def serve_sink() -> tuple[object, str]:
    """A receiver on 127.0.0.1 that answers 204 to everything; answers it and its URL."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Sink(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/hooks"


def delivery_row(concurrency: int, count: int, environment, log) -> dict:
    """`count` events written to the outbox at once (a burst), delivered by real workers."""
    from django.conf import settings
    from django.db.models import Max, Min

    from connectapp.connections.models import AnnouncedEvent, WebhookDelivery, WebhookEndpoint
    from connectapp.connections.services import events as link_events
    from connectapp.connections.services import webhooks
    from tests.support.workers import purge_queues

    reset_links()
    WebhookEndpoint.objects.all().delete()
    purge_queues()
    sink, url = serve_sink()
    webhooks.create_endpoint(url)
    events = AnnouncedEvent.objects.bulk_create(
        AnnouncedEvent(type="link.refreshed", payload={"link": None, "actor": "bench"})
        for _ in range(count)
    )
    for event in events:
        link_events.publish(event.pk)
    worker = start_worker(
        concurrency, worker_environment(environment), log, settings.CONNECTAPP_WEBHOOK_QUEUE
    )
    delivered = WebhookDelivery.objects.filter(status="delivered")
    wait_for_work(worker, delivered, count, 120 + count * 0.05, log)
    sink.shutdown()
    span = delivered.aggregate(first=Min("created_at"), last=Max("delivered_at"))
    elapsed = (span["last"] - span["first"]).total_seconds()
    return {
        "concurrency": str(concurrency),
        "events": f"{count:,}",
        "delivered/s": f"{count / elapsed:.1f}",
        "seconds": f"{elapsed:.1f}",
    }


def table(rows: list[dict]) -> str:
    columns = list(rows[0])
    widths = [max(len(column), *(len(row[column]) for row in rows)) for column in columns]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(columns), rule, *(line([row[c] for c in columns]) for row in rows)])


def main() -> None:
    args = parse_args()
    port = free_port()
    environment = environment_for(port)
    start_django(environment)
    from django.conf import settings

    # As Django's test runner does: no query log skews the sweep's memory and time.
    settings.DEBUG = False

    from connectapp.sandbox.pinterest import standin

    server = serve_in_thread(port)
    standin.inject_fault("latency", "token", delay=args.latency, times=10**12)
    log = Path(tempfile.mkdtemp(prefix="connectapp-bench-")) / "workers.log"
    print(f"bench database {urlsplit(environment['DATABASE_URL']).path[1:]}; worker log {log}")
    try:
        from bench.api import api_rows

        print(f"API: {args.api_requests} credentials requests per client count …", flush=True)
        credentials, proxy = api_rows(
            f"http://127.0.0.1:{port}", args.api_requests, args.api_clients
        )
        print("outbox cost per refresh …", flush=True)
        outbox = [outbox_row()]
        deliveries = []
        for concurrency in args.concurrency:
            print(f"{args.events} events delivered, concurrency {concurrency} …", flush=True)
            deliveries.append(delivery_row(concurrency, args.events, environment, log))
    finally:
        server.shutdown()
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            recreate_database(environment["DATABASE_URL"], drop_only=True)
    print("\nAPI credentials for a link needing no refresh (no provider call):\n")
    print(table(credentials))
    print("\nAPI proxy: GET user_account at the Pinterest stand-in, direct and proxied:\n")
    print(table(proxy))
    print("\nAnnouncing an event in a refresh's transaction (the outbox row):\n")
    print(table(outbox))
    print("\nA burst of events delivered by real workers to one receiver on 127.0.0.1:\n")
    print(table(deliveries))


if __name__ == "__main__":
    main()
