"""A provider that misbehaves on purpose, over real HTTP on 127.0.0.1.

Every request is recorded; what it answers is set by the test with one of the `answer_*`
methods (the same answer for every path until changed, or per path). It can drip its answer a
byte at a time, stream a body far bigger than anyone should read (counting what it managed to
send before the client hung up), send any bytes as a JSON answer, and redirect elsewhere.
"""

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.replies import reply

Answer = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HostileServer:
    """A threaded HTTP server; `url` is its origin, `requests` what it received."""

    requests: list[Request] = field(default_factory=list)
    #: Bytes of the last streamed body that reached the socket before the client hung up.
    bytes_sent: int = 0
    #: Hang up after each answer (without saying so), or keep the connection for the next.
    close_after_answer: bool = True
    _answers: dict[str, Answer] = field(default_factory=dict)
    _default: Answer | None = None

    def start(self) -> "HostileServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append(
                    Request(self.command, self.path, dict(self.headers.items()), body)
                )
                path = self.path.split("?")[0]
                answer = server._answers.get(path, server._default) or _not_found
                # The client may hang up before the answer is over, as it should on a bad one.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    answer(self)
                self.close_connection = server.close_after_answer

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, answer: Answer, path: str | None = None) -> None:
        """Answer requests to `path` (every path when None) with `answer`."""
        if path is None:
            self._default = answer
        else:
            self._answers[path] = answer

    # --- answers ----------------------------------------------------------------------------

    def raw(
        self,
        body: bytes,
        status: int = 200,
        content_type: str = "application/json",
        path: str | None = None,
    ) -> None:
        def answer(handler: BaseHTTPRequestHandler) -> None:
            reply(handler, status, body, {"Content-Type": content_type})

        self.answer(answer, path)

    def json(self, body: Any, status: int = 200, path: str | None = None) -> None:
        self.raw(json.dumps(body).encode(), status, path=path)

    def drip(self, every: float, *, in_headers: bool = False, path: str | None = None) -> None:
        """A valid-looking answer sent one byte every `every` seconds (a minute of bytes)."""
        body = json.dumps({"access_token": "x" * 60, "token_type": "bearer"}).encode()
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()

        def answer(handler: BaseHTTPRequestHandler) -> None:
            if in_headers:
                slow, fast = head, b""
            else:
                slow, fast = body, head
            handler.wfile.write(fast)
            handler.wfile.flush()
            for byte in slow:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(every)
            if in_headers:
                handler.wfile.write(body)

        self.answer(answer, path)

    def oversize(
        self, total: int, *, declare_length: bool = False, path: str | None = None
    ) -> None:
        """A JSON string `total` bytes long, streamed in 64 KiB chunks (never built whole)."""
        chunk = b"a" * 65536

        def answer(handler: BaseHTTPRequestHandler) -> None:
            self.bytes_sent = 0
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            if declare_length:
                handler.send_header("Content-Length", str(total))
            handler.end_headers()
            handler.wfile.write(b'"')
            while self.bytes_sent < total:
                handler.wfile.write(chunk)
                handler.wfile.flush()
                self.bytes_sent += len(chunk)

        self.answer(answer, path)

    def redirect(self, status: int, location: str, path: str | None = None) -> None:
        def answer(handler: BaseHTTPRequestHandler) -> None:
            reply(handler, status, headers={"Location": location})

        self.answer(answer, path)


def _not_found(handler: BaseHTTPRequestHandler) -> None:
    reply(handler, 404)
