"""The bench's provider: a minimal keep-alive token endpoint, in a process of its own."""

import multiprocessing
import multiprocessing.sharedctypes
import re
import secrets
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.common import send_json

#: A bench token names its account: `pina_<account>.<random>` (access), `pinr_…` (refresh).
ACCOUNT_IN_REFRESH = re.compile(rb"refresh_token=pinr_([\w-]+)\.")
ACCOUNT_IN_ACCESS = re.compile(r"Bearer pina_([\w-]+)\.")


def bench_token(kind: str, account: str) -> str:
    return f"{kind}_{account}.{secrets.token_urlsafe(32)}"


class TokenEndpoint(BaseHTTPRequestHandler):
    """Answers every POST with new tokens after `latency.value` seconds, and
    `GET …/user_account` with the account the Bearer token names, keeping the connection."""

    protocol_version = "HTTP/1.1"
    # One write per answer, sent at once (no Nagle delay waiting for the client's ACK).
    wbufsize = -1
    disable_nagle_algorithm = True
    #: Shared with the bench's process, which sets it (`TokenServer.latency`).
    latency: "multiprocessing.sharedctypes.Synchronized[float]"

    def do_POST(self) -> None:
        form = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if latency := self.latency.value:
            time.sleep(latency)
        named = ACCOUNT_IN_REFRESH.search(form)
        account = named[1].decode() if named else "anyone"
        send_json(
            self,
            {
                "access_token": bench_token("pina", account),
                "refresh_token": bench_token("pinr", account),
                "token_type": "bearer",
                "expires_in": 30 * 24 * 3600,
                "refresh_token_expires_in": 365 * 24 * 3600,
                "scope": "user_accounts:read",
            },
        )

    def do_GET(self) -> None:
        named = ACCOUNT_IN_ACCESS.match(self.headers.get("Authorization", ""))
        if not self.path.endswith("/user_account") or not named:
            send_json(self, {"code": 401, "message": "Authentication failed."}, status=401)
            return
        send_json(self, {"id": named[1], "username": named[1], "account_type": "PINNER"})

    def log_message(self, *args) -> None:
        pass


def _serve(port: int, latency) -> None:
    TokenEndpoint.latency = latency
    server = ThreadingHTTPServer(("127.0.0.1", port), TokenEndpoint)
    server.daemon_threads = True
    server.serve_forever()


class TokenServer:
    """`TokenEndpoint` on `port`, in a process of its own, as a provider is: what a refresh
    costs the provider is not counted as connectapp's CPU, and does not wait for this
    process's interpreter lock. `latency` (seconds) is read at each POST."""

    def __init__(self, port: int) -> None:
        spawned = multiprocessing.get_context("spawn")  # a fork would share Django's sockets
        self._latency = spawned.Value("d", 0.0, lock=False)
        self._process = spawned.Process(target=_serve, args=(port, self._latency), daemon=True)
        self._process.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or not self._process.is_alive():
                    self.stop()
                    sys.exit(f"the bench's token endpoint did not start on port {port}")
                time.sleep(0.05)

    @property
    def latency(self) -> float:
        return self._latency.value

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._latency.value = seconds

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(10)
