"""The host site's own checks, run with the Python that has connectapp installed from its wheel.

It runs Django's system checks (a warning fails too), migrates, serves the site on
HOST_SITE_URL (so the stand-ins, which keep their state in this process, answer connectapp's
server-side calls), connects Discogs and Pinterest as a member the way a browser does,
refreshes the Pinterest link through a worker of the host's own Celery app, and reads the
connections page inside the host's layout. A deprecation warning that connectapp's code
causes stops it. Exits non-zero on the first failure.
"""

import os
import platform
import subprocess
import sys
import threading
import time
import warnings
from urllib.parse import parse_qs, urlsplit

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "host_site.settings")
# Whatever connectapp's own code does that this Django deprecates stops the checks, including
# what it only announces for a later release (PendingDeprecationWarning).
for category in (DeprecationWarning, PendingDeprecationWarning):
    warnings.filterwarnings("error", category=category, module=r"connectapp(\.|$)")

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.test import Client  # noqa: E402
from host_site.celery import app as host_celery  # noqa: E402
from members.models import Member  # noqa: E402

import connectapp  # noqa: E402
from connectapp import conf  # noqa: E402
from connectapp.connections import checks, tasks  # noqa: E402
from connectapp.connections.infra import metrics  # noqa: E402
from connectapp.connections.models import LinkedAccount  # noqa: E402

PREFIX = "/me/linked-accounts/"
CELERY_WORKER = (
    *(sys.executable, "-m", "celery", "-A", "host_site", "worker", "--pool", "solo"),
    *("--without-gossip", "--without-mingle", "--loglevel", "WARNING"),
)


def check(condition: bool, what: str) -> None:
    """Stop with `what` unless `condition` holds."""
    if not condition:
        raise SystemExit(f"host site check failed: {what}")
    print(f"ok: {what}", flush=True)


def local(url: str) -> str:
    """Return the path and query of `url`, as the test client requests it."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def serve() -> None:
    """Serve the site on HOST_SITE_URL from a thread of this process."""
    parts = urlsplit(settings.SITE_URL)
    server = ThreadedWSGIServer((parts.hostname, parts.port), WSGIRequestHandler)
    server.set_app(get_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()


def connect_discogs(browser: Client) -> None:
    """Connect Discogs through the stand-in as `ada-digs`."""
    started = browser.post(f"{PREFIX}discogs/connect/")
    check(started.status_code == 302, "Discogs: connect redirects to the authorize page")
    authorize = local(started["Location"])
    check(browser.get(authorize).status_code == 200, "Discogs: the stand-in's page shows")
    answered = browser.post(authorize, {"action": "approve", "username": "ada-digs"})
    check(answered.status_code == 302, "Discogs: approving sends the browser back")
    back = browser.get(local(answered["Location"]))
    check(back.status_code == 302, f"Discogs: the callback completes ({back.status_code})")


def connect_pinterest(browser: Client) -> None:
    """Connect Pinterest through the stand-in as `ada-pins`."""
    started = browser.post(f"{PREFIX}pinterest/connect/")
    check(started.status_code == 302, "Pinterest: connect redirects to the authorize page")
    authorize = started["Location"]
    check(browser.get(local(authorize)).status_code == 200, "Pinterest: the stand-in's page shows")
    fields = {name: values[0] for name, values in parse_qs(urlsplit(authorize).query).items()}
    form = {**fields, "decision": "approve", "username": "ada-pins", "access_lifetime": "0"}
    answered = browser.post(urlsplit(authorize).path, form)
    check(answered.status_code == 302, "Pinterest: approving sends the browser back")
    back = browser.get(local(answered["Location"]))
    check(back.status_code == 302, f"Pinterest: the callback completes ({back.status_code})")


def start_worker(queues: str) -> subprocess.Popen:
    """Start a worker of the host's Celery app that consumes `queues` (comma-separated)."""
    return subprocess.Popen([*CELERY_WORKER, "--queues", queues])


def stop(worker: subprocess.Popen) -> None:
    """Stop `worker` and wait for it."""
    worker.terminate()
    worker.wait(timeout=30)


def wait_for(condition, what: str, worker: subprocess.Popen, seconds: float = 90) -> None:
    """Poll `condition` until it holds; stop with `what` when it does not in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        if worker.poll() is not None:
            raise SystemExit(f"host site check failed: the worker stopped before {what}")
        time.sleep(0.5)
    check(condition(), what)


def refresh_through_the_host_worker(link: LinkedAccount) -> None:
    """Run the sweep on a worker of the host's Celery app that consumes only the default
    queue: the refresh it queues waits on the provider queue, where the host's task routes
    (connectapp's router) send it. Then a worker of that queue refreshes the link."""
    check(
        tasks.refresh_due._get_current_object().app is host_celery,
        "connectapp's tasks are registered on the host's Celery app",
    )
    check(checks.check_task_routes() == [], "the host's Celery app routes connectapp's tasks")
    provider_queue = conf.value("PROVIDER_QUEUE")
    connected_at = link.last_refreshed_at  # a Pinterest link counts as refreshed when made
    with host_celery.connection_for_write() as connection:
        connection.default_channel.queue_purge(provider_queue)
    check(metrics.queue_depths().get(provider_queue) == 0, "the provider queue starts empty")
    sweeper = start_worker(host_celery.conf.task_default_queue)
    try:
        tasks.refresh_due.delay()
        wait_for(
            lambda: metrics.queue_depths().get(provider_queue, 0) >= 1,
            f"the sweep queued the refresh on the {provider_queue} queue",
            sweeper,
        )
        link.refresh_from_db()
        check(
            link.last_refreshed_at == connected_at, "no worker of the default queue ran the refresh"
        )
    finally:
        stop(sweeper)
    refresher = start_worker(provider_queue)
    try:
        wait_for(
            lambda: LinkedAccount.objects.get(pk=link.pk).last_refreshed_at > connected_at,
            f"a worker of the {provider_queue} queue refreshed the Pinterest link",
            refresher,
        )
    finally:
        stop(refresher)
    check(metrics.queue_depths().get(provider_queue) == 0, "the provider queue is empty")


def search_in_admin(email: str, link: LinkedAccount) -> None:
    """Find the member's links and their events in the admin by the member's email address:
    the host's user model has no `username`. Then open `link`'s page, with its actions."""
    boss = Member.objects.create_user(
        "boss@example.org", "not-used", is_staff=True, is_superuser=True
    )
    backoffice = Client()
    backoffice.force_login(boss)
    links = backoffice.get("/backoffice/connections/linkedaccount/", {"q": email})
    check(links.status_code == 200, f"admin searches links by email ({links.status_code})")
    check("ada-pins" in links.content.decode(), "the search finds the member's links")
    events = backoffice.get("/backoffice/connections/connectionevent/", {"q": email})
    check(events.status_code == 200, f"admin searches events by email ({events.status_code})")
    page = backoffice.get(f"/backoffice/connections/linkedaccount/{link.pk}/change/")
    check(page.status_code == 200, f"admin shows a link's page ({page.status_code})")
    check(
        "Verify with the provider now" in page.content.decode(),
        "the link's admin page offers its actions as buttons",
    )


def main() -> None:
    """Run every check in order."""
    check(
        "site-packages" in connectapp.__file__,
        f"connectapp comes from the wheel ({connectapp.__file__})",
    )
    print(f"ok: Django {django.get_version()} on Python {platform.python_version()}", flush=True)
    call_command("check", fail_level="WARNING")
    check(True, "Django's system checks find nothing")
    call_command("migrate", verbosity=0)
    serve()
    member = Member.objects.create_user("ada@example.org", "not-used", display_name="Ada")
    browser = Client()
    browser.force_login(member)

    connect_discogs(browser)
    connect_pinterest(browser)
    links = {link.provider: link for link in LinkedAccount.objects.filter(user=member)}
    check(sorted(links) == ["discogs", "pinterest"], "both links belong to the host's member")
    check(
        {link.username for link in links.values()} == {"ada-digs", "ada-pins"},
        "the links carry the provider usernames",
    )
    check(all(link.status == "active" for link in links.values()), "both links are active")

    refresh_through_the_host_worker(links["pinterest"])
    search_in_admin(member.email, links["pinterest"])

    page = browser.get(PREFIX)
    html = page.content.decode()
    check(page.status_code == 200, "the connections page answers")
    check('id="crate-club-header"' in html, "the page is inside the host's layout")
    check("ada-digs" in html and "ada-pins" in html, "the page lists both links")
    german = browser.get(PREFIX, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    check("Deine Verbindungen" in german, "the wheel's German catalogue translates the page")
    print("host site: every check passed", flush=True)


if __name__ == "__main__":
    main()
