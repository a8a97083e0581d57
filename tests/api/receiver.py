"""A provider API on 127.0.0.1 for the proxy and app-level tests: it tells what it received."""

import json
from http.server import BaseHTTPRequestHandler

from tests.support.replies import reply, reply_json


class Receiver(BaseHTTPRequestHandler):
    """A provider API on 127.0.0.1 that tells what it received, and misbehaves on request."""

    seen: list[dict] = []
    flaky_left = 0

    def log_message(self, *args) -> None:
        return

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        Receiver.seen.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        if self.path == "/token":
            token = {"access_token": "app-level-token", "expires_in": 3600, "token_type": "bearer"}
            reply_json(self, token)
            return
        if self.path.startswith("/api/redirect"):
            reply(self, 302, headers={"Location": "http://127.0.0.1:9/elsewhere"})
            return
        if self.path.startswith("/api/flaky") and Receiver.flaky_left > 0:
            Receiver.flaky_left -= 1
            reply(self, 503, headers={"Retry-After": "0"})
            return
        payload = (
            b"x" * 50_000
            if self.path.startswith("/api/big")
            else json.dumps(Receiver.seen[-1]).encode()
        )
        headers = {"Content-Type": "application/json", "Set-Cookie": "provider=secret"}
        reply(self, 200, payload, headers)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer
