"""Start the test authorization server in its own process, and use it like a browser would."""

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import requests

PROJECT = Path(__file__).resolve().parents[2]
PASSWORD = "server-side password"


class _Inputs(HTMLParser):
    """The named inputs of a page's form, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("type") == "hidden" and found.get("name"):
            self.values[found["name"]] = found.get("value") or ""


def hidden_inputs(page: str) -> dict[str, str]:
    parser = _Inputs()
    parser.feed(page)
    return parser.values


@dataclass(frozen=True)
class AuthorizationServer:
    url: str
    request_log: Path

    def requests_to(self, path: str) -> list[str]:
        """The Authorization scheme (`Basic`, `Bearer`, or `-` for none) of each request the
        server has received for `path` (`/o/revoke_token/`), oldest first."""
        schemes = []
        for line in self.request_log.read_text().splitlines():
            received, scheme = line.split(" ", 1)[1].rsplit(" ", 1)
            if received == path:
                schemes.append(scheme)
        return schemes

    def decide(self, authorize_url: str, username: str, *, allow: bool = True) -> str:
        """Sign in at the server, approve or cancel; answers the redirect back to our callback."""
        browser = requests.Session()
        login = browser.get(authorize_url, timeout=10)
        assert login.url.startswith(f"{self.url}/accounts/login/"), login.url
        page = browser.post(
            login.url,
            data={
                **hidden_inputs(login.text),
                "username": username,
                "password": PASSWORD,
            },
            timeout=10,
        )
        assert page.status_code == 200 and "authorizationForm" in page.text, page.text[:2000]
        form = hidden_inputs(page.text)
        if allow:
            form["allow"] = "Authorize"
        answer = browser.post(page.url, data=form, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text[:2000]
        return answer.headers["Location"]


@contextmanager
def running(users: list[str], applications: list[dict[str, Any]]) -> Iterator[AuthorizationServer]:
    """django-oauth-toolkit in a separate process on a port it picks, stopped on the way out."""
    spec = {"users": dict.fromkeys(users, PASSWORD), "applications": applications}
    with tempfile.TemporaryDirectory() as folder:
        request_log = Path(folder) / "requests.log"
        request_log.touch()
        env = {
            **os.environ,
            "OAUTH_SERVER_DATABASE": str(Path(folder) / "server.sqlite3"),
            "OAUTH_SERVER_REQUEST_LOG": str(request_log),
        }
        with open(Path(folder) / "server.log", "w+") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.oauth_server.serve"],
                cwd=PROJECT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
            try:
                process.stdin.write(json.dumps(spec))
                process.stdin.close()
                first_line = process.stdout.readline()
                if not first_line:
                    process.wait(timeout=10)
                    log.seek(0)
                    raise RuntimeError(f"the authorization server did not start:\n{log.read()}")
                port = json.loads(first_line)["port"]
                yield AuthorizationServer(url=f"http://127.0.0.1:{port}", request_log=request_log)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                process.stdout.close()
