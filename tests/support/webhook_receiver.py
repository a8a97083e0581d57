"""A real webhook receiver on 127.0.0.1 that verifies every delivery with `standardwebhooks`.

Each receiver serves one endpoint URL; `script` sets what it answers to the next requests
(then 200). It keeps every request: verified ones in `received`, refused ones in `refused`.
"""

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.support.replies import reply


@dataclass
class Delivery:
    webhook_id: str
    body: dict
    raw: bytes
    path: str


@dataclass
class Receiver:
    url: str = ""
    secret: str = ""
    received: list[Delivery] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    hits: list[str] = field(default_factory=list)
    answers: deque = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    endpoint: object = None

    def script(self, *answers: tuple) -> None:
        """Answer the next requests with these: (status,), (status, headers), ("sleep", s)
        (then 200) or ("endless",) (200 and a body that never ends)."""
        self.answers.extend(answers)

    def types(self) -> list[str]:
        with self.lock:
            return [delivery.body["type"] for delivery in self.received]

    def ids(self) -> list[str]:
        with self.lock:
            return [delivery.webhook_id for delivery in self.received]


def serve(receiver: Receiver) -> ThreadingHTTPServer:
    """Start a server for the receiver on a free port of 127.0.0.1; set its URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            return

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with receiver.lock:
                receiver.hits.append(self.headers.get("webhook-id", ""))
                answer = receiver.answers.popleft() if receiver.answers else (200,)
            if answer[0] == "endless":
                self.send_response(200)
                self.end_headers()
                try:
                    while True:
                        self.wfile.write(b"x" * 4096)
                except OSError:
                    return
            if answer[0] == "sleep":
                time.sleep(answer[1])
                answer = (200,)
            status, headers = answer[0], (answer[1] if len(answer) > 1 else {})
            if 200 <= status < 300:
                try:
                    body = Webhook(receiver.secret).verify(raw, dict(self.headers))
                except WebhookVerificationError as problem:
                    with receiver.lock:
                        receiver.refused.append(str(problem))
                    status = 400
                else:
                    with receiver.lock:
                        receiver.received.append(
                            Delivery(self.headers["webhook-id"], body, raw, self.path)
                        )
            reply(self, status, json.dumps({"status": status}).encode(), headers)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.server_port}/hooks"
    return server


def subscribe(receiver: Receiver, events: list[str] | None = None):
    """Make a webhook endpoint for the receiver (with its secret); answers the endpoint."""
    from connectapp.connections.services import webhooks

    endpoint, receiver.secret = webhooks.create_endpoint(receiver.url, events)
    return endpoint


@pytest.fixture
def receiver_factory():
    """Answers a function that starts a receiver and subscribes it; all are stopped after."""
    servers: list[ThreadingHTTPServer] = []

    def start(events: list[str] | None = None, *, endpoint: bool = True) -> Receiver:
        receiver = Receiver()
        servers.append(serve(receiver))
        if endpoint:
            receiver.endpoint = subscribe(receiver, events)
        return receiver

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
