"""`manage.py rundemo`: the whole app on one machine with no services to install.

Migrates the embedded database, makes the demo users, then runs the web server and a Celery
worker with its beat schedule until interrupted. Only for `DEBUG=true`.
"""

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectapp import conf

DEMO_USER = ("demo", "connectapp-demo")
DEMO_ADMIN = ("admin", "connectapp-admin")


class Command(BaseCommand):
    help = "Run the demo: web server, worker and schedule, with the built-in provider stand-ins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="serve pages only")

    def handle(self, *args, port: int, no_worker: bool, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("rundemo is for development only: set DEBUG=true.")
        call_command("migrate", interactive=False, verbosity=0)
        users = get_user_model()
        if not users.objects.filter(username=DEMO_USER[0]).exists():
            users.objects.create_user(DEMO_USER[0], "demo@example.com", DEMO_USER[1])
        if not users.objects.filter(username=DEMO_ADMIN[0]).exists():
            users.objects.create_superuser(DEMO_ADMIN[0], "admin@example.com", DEMO_ADMIN[1])
        self.stdout.write(
            f"\nconnectapp demo on http://127.0.0.1:{port}/\n"
            f"  sign in as {DEMO_USER[0]} / {DEMO_USER[1]}"
            f"  (admin: {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]} at /admin/)\n"
            f"  provider stand-ins: {'on' if conf.value('SANDBOX') else 'off'}\n"
            "  Ctrl-C stops everything\n"
        )
        children = []
        if not no_worker:
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "connectapp",
                        "worker",
                        "--beat",
                        # The sweeps', the provider calls' and the webhooks' queues, in one worker.
                        "--queues",
                        ",".join(
                            (
                                settings.CELERY_TASK_DEFAULT_QUEUE,
                                conf.value("PROVIDER_QUEUE"),
                                conf.value("WEBHOOK_QUEUE"),
                            )
                        ),
                        "--loglevel=INFO",
                        "--concurrency=2",
                    ],
                    # Where `standalone` (the worker's settings) is found, wherever this runs.
                    cwd=settings.BASE_DIR,
                )
            )
        manage = os.path.join(settings.BASE_DIR, "manage.py")
        children.append(
            subprocess.Popen(
                [sys.executable, manage, "runserver", f"127.0.0.1:{port}", "--noreload"]
            )
        )
        # `kill` (SIGTERM) stops the children too, like Ctrl-C.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            while all(child.poll() is None for child in children):
                try:
                    children[-1].wait(timeout=1)
                except subprocess.TimeoutExpired:
                    continue
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                child.wait(timeout=15)
