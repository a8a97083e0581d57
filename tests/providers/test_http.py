"""What an outage's `Retry-After` header means, whatever a provider writes in it."""

import re
import threading
import time
from pathlib import Path

import pytest
import requests

from connectapp.exceptions import ProviderUnavailable
from connectapp.providers import http
from tests.providers.hostile_server import HostileServer


def answer(status: int, retry_after: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers["Retry-After"] = retry_after
    return response


@pytest.mark.parametrize(
    "retry_after",
    [
        "Wed, 21 Oct 2015 07:28:00",  # a date without its zone
        "Wed, 21 Oct 2015 07:28:00 -0000",
        "\u00b2",  # a latin-1 byte that `str.isdigit` takes for a digit
        "9" * 400,
        "99999999999999",
    ],
)
def test_an_odd_retry_after_still_makes_an_outage(retry_after):
    with pytest.raises(ProviderUnavailable) as raised:
        http.raise_for_outage(answer(429, retry_after), "Example")

    assert raised.value.retry_after is None or 0 <= raised.value.retry_after <= http.MAX_RETRY_AFTER


def test_a_retry_after_date_without_a_zone_is_read_as_gmt():
    assert http.retry_after_seconds(answer(503, "Wed, 21 Oct 2015 07:28:00")) == 0.0


def test_a_retry_after_in_seconds_is_honoured():
    assert http.retry_after_seconds(answer(429, "120")) == 120.0


def kept_adapter() -> object:
    return http.keep_alive(requests.Session()).get_adapter("https://provider.example/")


def test_sessions_of_one_thread_share_its_kept_connections_and_closing_one_keeps_them():
    first = requests.Session()
    adapter = http.keep_alive(first).get_adapter("http://provider.example/")
    pool = adapter.poolmanager.connection_from_url("http://provider.example/")
    first.close()

    assert kept_adapter() is adapter
    assert adapter.poolmanager.connection_from_url("http://provider.example/") is pool


def test_each_thread_and_each_forked_child_keeps_connections_of_its_own():
    import os
    import threading

    mine = kept_adapter()
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(kept_adapter()))
    thread.start()
    thread.join()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write, b"same" if kept_adapter() is mine else b"own")
        os._exit(0)
    os.waitpid(child, 0)

    assert theirs[0] is not mine
    assert os.read(read, 10) == b"own"
    assert kept_adapter() is mine


def test_provider_calls_go_through_the_proxy_the_environment_names(monkeypatch):
    proxy = HostileServer().start()
    proxy.json({"id": "pinner"})
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        answer = http.GuardedSession().get("http://provider-behind-a-proxy.example/v5/user_account")
    finally:
        proxy.stop()

    assert answer.json() == {"id": "pinner"}
    assert [request.path for request in proxy.requests] == [
        "http://provider-behind-a-proxy.example/v5/user_account"
    ]


def test_a_kept_connection_the_provider_just_closed_is_replaced_not_failed(hostile):
    """The hostile server closes each connection right after its answer, without saying so
    (no `Connection: close`): the next call on this thread may pick that connection up before
    its close arrives. A read that finds it closed is sent again on a new connection."""
    hostile.json({"access_token": "a" * 40, "token_type": "bearer"}, path="/oauth/token")
    hostile.json({"id": "pinner"}, path="/v5/user_account")
    session = http.keep_alive(http.GuardedSession())

    answers = []
    for _ in range(300):
        answers.append(session.post(f"{hostile.url}/oauth/token", data={"a": "b"}).status_code)
        answers.append(session.get(f"{hostile.url}/v5/user_account").status_code)

    assert answers == [200] * 600
    assert len(hostile.requests) >= 600


def test_a_connection_closed_without_an_answer_on_its_first_request_is_not_sent_again(hostile):
    hostile.answer(lambda handler: None, path="/oauth/token")  # read the request, then hang up
    session = http.keep_alive(http.GuardedSession())

    with pytest.raises(requests.ConnectionError):
        session.post(f"{hostile.url}/oauth/token", data={"refresh_token": "r"})

    assert len(hostile.requests) == 1


def test_a_call_its_deadline_ended_on_a_kept_connection_is_not_sent_again(hostile, settings):
    hostile.json({"id": "pinner"}, path="/v5/user_account")
    session = http.keep_alive(http.GuardedSession())
    hostile.close_after_answer = False
    assert session.get(f"{hostile.url}/v5/user_account").status_code == 200
    hostile.answer(lambda handler: time.sleep(1), path="/oauth/token")  # silent past the deadline
    settings.CONNECTAPP_HTTP_TIMEOUT = 0.3

    with pytest.raises(requests.Timeout, match=r"no answer within 0\.3 s"):
        session.post(f"{hostile.url}/oauth/token", data={"refresh_token": "r"})

    time.sleep(0.3)  # time for a request sent again to arrive
    assert [request.path for request in hostile.requests] == ["/v5/user_account", "/oauth/token"]


def context_switches(thread: threading.Thread) -> int:
    """How often the thread has slept and been woken so far (Linux's count)."""
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    return int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", status, re.MULTILINE)[1])


def test_the_deadline_watcher_wakes_a_few_times_a_second_however_many_calls_end():
    """Calls a few milliseconds apart, as a busy worker makes them, each leave their deadline
    behind when they end: the watcher must not wake for each (a thread switch per call)."""
    with http._Call(0.05):
        pass  # the watcher runs from the first call on
    watcher = http._deadlines._thread
    time.sleep(0.2)
    before, started = context_switches(watcher), time.monotonic()

    calls = 0
    while time.monotonic() - started < 1.0:
        with http._Call(0.05):
            time.sleep(0.002)
        calls += 1
    time.sleep(0.2)  # every deadline left behind has come
    wakes = context_switches(watcher) - before
    seconds = time.monotonic() - started

    assert calls > 100, "too few calls to tell"
    assert wakes <= 2 * seconds / http._Deadlines.SLACK + 10 < calls / 2
