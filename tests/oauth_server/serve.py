"""Run the test authorization server: `python -m tests.oauth_server.serve < spec.json`.

The spec (JSON on stdin) names the users and OAuth applications to create. The server binds a
free port itself and prints `{"port": …}` on its first line of output once it answers.
"""

import json
import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        """Request lines carry codes and states: keep them out of the test output."""


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oauth_server.settings"
    import django

    django.setup()

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import Application

    spec = json.load(sys.stdin)
    call_command("migrate", verbosity=0)
    for username, password in spec["users"].items():
        get_user_model().objects.create_user(username=username, password=password)
    for application in spec["applications"]:
        Application.objects.create(client_type=Application.CLIENT_CONFIDENTIAL, **application)

    server = make_server(
        "127.0.0.1",
        0,
        get_wsgi_application(),
        server_class=ThreadingServer,
        handler_class=QuietHandler,
    )
    print(json.dumps({"port": server.server_port}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
