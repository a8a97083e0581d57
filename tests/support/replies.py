"""How the test servers on 127.0.0.1 (the receivers in tests/support and tests/api, the hostile
provider in tests/providers) send a whole reply to a request."""

import json
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any


def reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
) -> None:
    """Send `status`, then `headers` and the Content-Length of `body`, then `body`."""
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def reply_json(
    handler: BaseHTTPRequestHandler,
    data: Any,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Send `data` as JSON, with `status` and `headers`."""
    content = {"Content-Type": "application/json", **(headers or {})}
    reply(handler, status, json.dumps(data).encode(), content)
