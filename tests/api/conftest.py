"""The backend API over real HTTP: the live server, the provider stand-ins it serves, keys
made by the service, and `requests` as the other service's client."""

import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer

import pytest
import requests

from connectapp.connections.infra import ratelimit
from connectapp.connections.models import ApiKey
from connectapp.connections.services import apikeys
from connectapp.sandbox.discogs import standin as discogs_standin
from connectapp.sandbox.pinterest import standin as pinterest_standin
from tests.api.receiver import Receiver

ALL_SCOPES = tuple(ApiKey.Scope.values)


class Api:
    """A client of `/api/v1/` with one key, as another service holds it."""

    def __init__(self, base: str, key: str | None):
        self.base = base
        self.http = requests.Session()
        if key is not None:
            self.http.headers["Authorization"] = f"Bearer {key}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("allow_redirects", False)
        return self.http.request(method, f"{self.base}{path}", **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api_base(live_server) -> str:
    return f"{live_server.url}/api/v1"


@pytest.fixture
def standins(sandbox, settings):
    """Both stand-ins, fresh, with the connect-session return origin allowed."""
    settings.CONNECTAPP_CONNECT_RETURN_ORIGINS = ["https://site.example"]
    settings.CONNECTAPP_API_RATE_LIMIT = "1000/60"
    discogs_standin.reset()
    pinterest_standin.reset()
    ratelimit.reset("discogs")
    ratelimit.reset("pinterest")
    yield sandbox
    discogs_standin.reset()
    pinterest_standin.reset()


@pytest.fixture
def make_key(transactional_db) -> Callable[..., apikeys.NewKey]:
    """`make_key(scopes, providers)` makes a key the way the command does."""
    made: list[ApiKey] = []

    def make(scopes=ALL_SCOPES, providers=(), name="test key") -> apikeys.NewKey:
        new = apikeys.create_key(name, scopes, providers)
        made.append(new.api_key)
        return new

    yield make
    for api_key in made:
        apikeys.reset_rate_limit(api_key)


@pytest.fixture
def client_for(api_base, standins, make_key) -> Callable[..., Api]:
    """`client_for(scopes, providers)`: an API client holding a new key with those scopes."""

    def build(scopes=ALL_SCOPES, providers=()) -> Api:
        return Api(api_base, make_key(scopes, providers).key)

    return build


@pytest.fixture
def api(client_for) -> Api:
    """A client whose key has every scope, for every provider."""
    return client_for()


def assert_problem(response: requests.Response, status: int) -> dict:
    """The answer is an RFC 9457 problem with this status; answers its body."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["type"] and body["title"] and body["detail"]
    return body


@pytest.fixture
def receiver() -> Iterator[str]:
    """A provider API served on 127.0.0.1 (see `Receiver`); answers its base URL."""
    Receiver.seen = []
    Receiver.flaky_left = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
