"""A provider API on 127.0.0.1 for the proxy and app-level tests: it tells what it received."""

import json
from http.server import BaseHTTPRequestHandler


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
            payload = json.dumps(
                {"access_token": "app-level-token", "expires_in": 3600, "token_type": "bearer"}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if self.path.startswith("/api/redirect"):
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/api/flaky") and Receiver.flaky_left > 0:
            Receiver.flaky_left -= 1
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = (
            b"x" * 50_000
            if self.path.startswith("/api/big")
            else json.dumps(Receiver.seen[-1]).encode()
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "provider=secret")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer
