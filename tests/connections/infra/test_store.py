"""One store for every process: scripts registered once, one client per process, rate limits
and counters shared across processes, and memory when there is no Redis."""

import os
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from connectapp.connections.infra import connect_limit, metrics, ratelimit, store
from connectapp.exceptions import TooManyStarts

from .conftest import in_another_process

START = """
from types import SimpleNamespace
from connectapp.connections.infra import connect_limit
from connectapp.exceptions import TooManyStarts
try:
    connect_limit.check_flow_start(SimpleNamespace(pk={pk}))
    print("allowed")
except TooManyStarts:
    print("refused")
"""


def test_a_script_is_sent_once_then_called_by_its_digest(shared_store, sent, settings):
    settings.CONNECTAPP_RATE_LIMITS = {"discogs": "600/m"}
    ratelimit.wait_turn("discogs", max_wait=1)
    sent.clear()

    ratelimit.wait_turn("discogs", max_wait=1)

    (call,) = sent
    assert b"EVALSHA" in call and b"redis.call" not in call
    sha = store.script(ratelimit._TAKE_SLOT).sha
    assert shared_store.script_exists(sha) == [True]


def test_one_client_serves_every_operation_of_a_process(shared_store):
    assert store.client() is shared_store
    ratelimit.reset("discogs")
    metrics.record("refresh", "discogs", "refreshed", 0.01)

    assert store.client() is shared_store


def test_the_connect_limit_is_shared_by_every_process(shared_store, settings, monkeypatch):
    settings.CONNECTAPP_CONNECT_RATE_LIMIT = "2/60"
    user = SimpleNamespace(pk=9101)
    connect_limit.check_flow_start(user)
    connect_limit.check_flow_start(user)

    limit = {"CONNECTAPP_CONNECT_RATE_LIMIT": "2/60"}
    assert in_another_process(START.format(pk=9101), **limit) == "refused"
    assert in_another_process(START.format(pk=9102), **limit) == "allowed"


def test_the_connect_limit_window_expires_in_redis(shared_store, settings):
    settings.CONNECTAPP_CONNECT_RATE_LIMIT = "5/m"
    connect_limit.check_flow_start(SimpleNamespace(pk=9103))

    (key,) = shared_store.keys(connect_limit.KEY_PREFIX + ":9103:*")
    assert 0 < shared_store.ttl(key) <= 61


def test_outcome_counters_are_shared_by_every_process(shared_store):
    metrics.record("refresh", "pinterest", "refreshed", 0.5)

    in_another_process(
        "from connectapp.connections.infra import metrics\n"
        "metrics.record('refresh', 'pinterest', 'refreshed', 0.25)"
    )

    (row,) = metrics.outcome_counts()
    assert (row.count, row.seconds) == (2, 0.75)


def test_without_redis_everything_is_kept_in_this_process(settings):
    settings.CONNECTAPP_REDIS_URL = ""
    settings.CONNECTAPP_RATE_LIMITS = {"discogs": "60/m"}
    settings.CONNECTAPP_CONNECT_RATE_LIMIT = "1/60"

    assert store.client() is None
    assert ratelimit.wait_turn("discogs", max_wait=0) == 0
    assert 0.9 <= ratelimit.wait_turn("discogs", max_wait=0) <= 1.0
    connect_limit.check_flow_start(SimpleNamespace(pk=9104))
    with pytest.raises(TooManyStarts):
        connect_limit.check_flow_start(SimpleNamespace(pk=9104))
    metrics.record("verify", "discogs", "verified", 0.1)
    assert [(row.operation, row.count) for row in metrics.outcome_counts()] == [("verify", 1)]


@pytest.mark.parametrize(
    ("text", "count", "period"),
    [("10/60", 10, 60), ("60/m", 60, 60), ("1/h", 1, 3600), ("5/10m", 5, 600), ("0/60", 0, 60)],
)
def test_both_limits_read_one_rate_grammar(settings, text, count, period):
    settings.CONNECTAPP_CONNECT_RATE_LIMIT = text

    assert connect_limit.connect_rate() == ratelimit.Rate(count, period)
    if count:
        settings.CONNECTAPP_RATE_LIMITS = {"discogs": text}
        assert ratelimit.rate_for("discogs") == ratelimit.Rate(count, period)


@pytest.mark.parametrize("text", ["60", "ten/m", "60/d", "10/0", "/60", "10/"])
def test_a_connect_limit_that_cannot_be_read_is_refused(settings, text):
    settings.CONNECTAPP_CONNECT_RATE_LIMIT = text

    with pytest.raises(ImproperlyConfigured, match="CONNECTAPP_CONNECT_RATE_LIMIT"):
        connect_limit.connect_rate()


def test_a_forked_child_makes_a_client_of_its_own(shared_store):
    answer, child_writes = os.pipe()
    pid = os.fork()
    if pid == 0:  # a prefork worker's child: it must not share the parent's connections
        try:
            fresh = store.client() is not shared_store and store.client().ping()
            os.write(child_writes, b"fresh" if fresh else b"inherited")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)

    assert os.read(answer, 16) == b"fresh"
    assert store.client() is shared_store
