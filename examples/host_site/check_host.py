"""The host site's own checks, run with the Python that has connectapp installed from its wheel.

It migrates, serves the site on HOST_SITE_URL (so the stand-ins, which keep their state in this
process, answer connectapp's server-side calls), connects Discogs and Pinterest as a member the
way a browser does, refreshes the Pinterest link through a worker of the host's own Celery app,
and reads the connections page inside the host's layout. Exits non-zero on the first failure.
"""

import os
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "host_site.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.test import Client  # noqa: E402
from host_site.celery import app as host_celery  # noqa: E402
from members.models import Member  # noqa: E402

import connectapp  # noqa: E402
from connectapp.connections import tasks  # noqa: E402
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


def refresh_through_the_host_worker(link: LinkedAccount) -> None:
    """Run a worker of the host's Celery app, queue the sweep, and wait for the refresh."""
    check(
        tasks.refresh_due._get_current_object().app is host_celery,
        "connectapp's tasks are registered on the host's Celery app",
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "host_site",
            "worker",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
    )
    try:
        tasks.refresh_due.delay()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            link.refresh_from_db()
            if link.last_refreshed_at is not None:
                break
            check(worker.poll() is None, "the host's worker keeps running")
            time.sleep(0.5)
        check(link.last_refreshed_at is not None, "the host's worker refreshed the Pinterest link")
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def main() -> None:
    """Run every check in order."""
    check(
        "site-packages" in connectapp.__file__,
        f"connectapp comes from the wheel ({connectapp.__file__})",
    )
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
