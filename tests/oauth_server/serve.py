"""Run the test authorization server: `python -m tests.oauth_server.serve < spec.json`.

The spec (JSON on stdin) names the users and OAuth applications to create. The server binds a
free port itself and prints `{"port": …}` on its first line of output once it answers. The
method, the path and the scheme of the Authorization header (never the query, the body or the
credentials: they carry codes and tokens) of every request are appended to the file named by
`OAUTH_SERVER_REQUEST_LOG` before it is handled, so a test that got its answer can read that
the request was made, and how the client authenticated.
"""

import json
import os
import sys
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        """Request lines carry codes and states: keep them out of the test output."""


def recording(app: Callable, path: str) -> Callable:
    """The WSGI app, writing down each request's method, path and auth scheme first."""
    lock = threading.Lock()

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        scheme = environ.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0] or "-"
        with lock, open(path, "a") as log:
            log.write(f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')} {scheme}\n")
        return app(environ, start_response)

    return application


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
        recording(get_wsgi_application(), os.environ["OAUTH_SERVER_REQUEST_LOG"]),
        server_class=ThreadingServer,
        handler_class=QuietHandler,
    )
    print(json.dumps({"port": server.server_port}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
