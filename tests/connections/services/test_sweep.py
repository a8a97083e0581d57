"""The sweep, the queued marker, rate limits and what operators see, run in this process
against real PostgreSQL, the real Redis broker and the Pinterest stand-in over HTTP."""

import base64
import io
import json
import logging
import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from connectapp import conf
from connectapp.celery import app
from connectapp.connections import services, tasks
from connectapp.connections.infra import metrics, ratelimit
from connectapp.connections.models import LinkedAccount, RefreshSchedule
from connectapp.exceptions import ProviderUnavailable
from connectapp.sandbox.pinterest import standin
from tests.factories import DiscogsAccountFactory, LinkedAccountFactory
from tests.support.pinterest_support import pinterest_link
from tests.support.workers import purge_queues, stored

PROVIDER_QUEUE = django_settings.CONNECTAPP_PROVIDER_QUEUE


@pytest.fixture
def broker(redis_url, settings):
    """The real Redis broker, its queues and the outcome counters emptied before and after;
    Pinterest configured, so the sweep looks at its links."""
    settings.CONNECTAPP_PINTEREST_CLIENT_ID = (
        conf.value("PINTEREST_CLIENT_ID") or "sandbox-pinterest-client"
    )
    settings.CONNECTAPP_PINTEREST_CLIENT_SECRET = (
        conf.value("PINTEREST_CLIENT_SECRET") or "sandbox-secret"
    )
    purge_queues()
    metrics.reset()
    with app.connection_for_write() as connection:
        yield connection.default_channel.client
    purge_queues()
    metrics.reset()


def queued_ids(client) -> list[int]:
    """The link ids of the messages waiting in the provider queue."""
    bodies = [json.loads(raw)["body"] for raw in client.lrange(PROVIDER_QUEUE, 0, -1)]
    return sorted(json.loads(base64.b64decode(body))[0][0] for body in bodies)


def due_links(user, count: int, queued_at=None, **fields) -> list[LinkedAccount]:
    links = [
        LinkedAccountFactory(user=user, expires_at=timezone.now() + timedelta(hours=n), **fields)
        for n in range(count)
    ]
    mark(links, queued_at)
    return links


def mark(links: list[LinkedAccount], queued_at) -> None:
    """Mark the links as queued by a sweep at `queued_at` (None: not queued)."""
    RefreshSchedule.objects.filter(pk__in=[link.pk for link in links]).update(queued_at=queued_at)


def queued_at(link: LinkedAccount):
    return RefreshSchedule.objects.get(pk=link.pk).queued_at


def test_provider_tasks_have_their_own_queue_and_are_acknowledged_when_done():
    for task in (tasks.refresh_account, tasks.verify_account):
        # The app's routes (connectapp's router) send it there; the sweep tests below read the
        # messages off that queue.
        assert app.amqp.router.route({}, task.name)["queue"].name == PROVIDER_QUEUE
        assert task.acks_late and task.reject_on_worker_lost
        assert 0 < task.soft_time_limit < task.time_limit
    for task in (tasks.refresh_due, tasks.verify_all):
        assert app.amqp.router.route({}, task.name)["queue"].name == "celery"
    assert app.conf.accept_content == ["json"] and app.conf.task_serializer == "json"
    assert {queue.name for queue in app.conf.task_queues} == {
        "celery",
        PROVIDER_QUEUE,
        django_settings.CONNECTAPP_WEBHOOK_QUEUE,
    }


def test_the_sweep_queues_each_due_link_once_until_its_refresh_ends(postgres, user, broker):
    due = due_links(user, 3)
    LinkedAccountFactory(user=user, expires_at=timezone.now() + timedelta(days=20))

    assert tasks.refresh_due() == 3
    assert tasks.refresh_due() == 0

    assert broker.llen(PROVIDER_QUEUE) == 3
    marked = RefreshSchedule.objects.filter(queued_at__isnull=False)
    assert sorted(marked.values_list("pk", flat=True)) == sorted(link.pk for link in due)


@pytest.mark.django_db
def test_a_link_waiting_to_retry_is_not_queued_again(pinterest, user, broker):
    account = pinterest_link(user)
    assert tasks.refresh_due() == 1
    standin.inject_fault("error", "token", status=503)

    with pytest.raises(ProviderUnavailable):
        services.refresh_queued(account.pk)

    assert queued_at(account) is not None
    assert tasks.refresh_due() == 0


@pytest.mark.django_db
def test_the_refresh_ends_the_mark_and_the_link_is_queued_again_when_due_again(
    pinterest, user, broker, settings
):
    account = pinterest_link(user)
    assert tasks.refresh_due() == 1

    assert services.refresh_queued(account.pk) == "refreshed"

    assert queued_at(account) is None
    settings.CONNECTAPP_REFRESH_WINDOW_SECONDS = 40 * 24 * 60 * 60
    assert tasks.refresh_due() == 1


@pytest.mark.parametrize("outcome", ["not_due", "skipped"])
def test_any_other_answer_ends_the_mark_too(postgres, user, broker, outcome):
    fields = {"status": LinkedAccount.Status.NEEDS_RECONNECT} if outcome == "skipped" else {}
    account = LinkedAccountFactory(user=user, **fields)
    mark([account], timezone.now())

    assert services.refresh_queued(account.pk) == outcome

    assert queued_at(account) is None


def test_a_mark_older_than_the_lease_is_released_and_the_link_queued_again(
    postgres, user, broker, settings
):
    lost = due_links(user, 1, queued_at=timezone.now() - timedelta(hours=4))[0]
    waiting = due_links(user, 1, queued_at=timezone.now() - timedelta(hours=1))[0]
    settings.CONNECTAPP_REFRESH_LEASE_SECONDS = 3 * 60 * 60

    assert tasks.refresh_due() == 1

    assert queued_ids(broker) == [lost.pk]
    assert queued_at(lost) > timezone.now() - timedelta(minutes=1)
    assert queued_at(waiting) < timezone.now() - timedelta(minutes=59)


def test_the_schedule_knows_which_links_can_be_renewed_whoever_writes_them(postgres, user):
    link = LinkedAccountFactory(user=user, refresh_token="r")
    renewable = lambda: RefreshSchedule.objects.get(pk=link.pk).renewable  # noqa: E731
    assert renewable()

    LinkedAccount.objects.filter(pk=link.pk).update(refresh_token="")
    assert not renewable()
    LinkedAccount.objects.filter(pk=link.pk).update(user=None)  # the site's own: renewable
    assert renewable()
    LinkedAccount.objects.filter(pk=link.pk).update(user=user, refresh_token="new")
    assert renewable()


def test_a_link_that_cannot_be_renewed_is_claimed_only_once_expired(postgres, user, broker):
    expired, _expiring_later = due_links(user, 2, refresh_token="")
    LinkedAccount.objects.filter(pk=expired.pk).update(expires_at=timezone.now())

    with CaptureQueriesContext(connection) as queries:
        assert tasks.refresh_due() == 1

    assert queued_ids(broker) == [expired.pk]
    # The claim reads the schedule alone.
    assert not [query for query in queries if "connections_linkedaccount" in query["sql"]]


def test_the_sweep_queues_the_soonest_expiring_first_and_no_more_than_the_rate_limit_allows(
    postgres, user, broker, settings
):
    settings.CONNECTAPP_RATE_LIMITS = {"pinterest": "2/m"}
    settings.CONNECTAPP_REFRESH_SWEEP_SECONDS = 60
    soonest, second, *_rest = due_links(user, 5)

    assert tasks.refresh_due() == 2

    assert queued_ids(broker) == sorted([soonest.pk, second.pk])


def sweep_queries(settings, due: int) -> int:
    LinkedAccount.objects.all().delete()
    user = LinkedAccountFactory().user
    LinkedAccount.objects.bulk_create(
        [
            LinkedAccount(
                user=user,
                provider="pinterest",
                external_id=f"x-{n}",
                refresh_token=f"refresh-{n}",  # a link without one is due only once expired
                expires_at=timezone.now() + timedelta(hours=1 if n < due else 24 * 20),
            )
            for n in range(due + 300)
        ]
    )
    purge_queues()
    with CaptureQueriesContext(connection) as queries:
        assert tasks.refresh_due() == due
    return len(queries)


def test_the_sweep_makes_the_same_queries_whatever_the_number_of_links_due(
    postgres, broker, settings
):
    settings.CONNECTAPP_SWEEP_BATCH_SIZE = 1000

    # The lease release; a batch: SAVEPOINT, the UPDATE marking what its indexed SELECT chose,
    # RELEASE; and the empty batch that ends the claim: the same three.
    assert sweep_queries(settings, due=5) == sweep_queries(settings, due=900) == 1 + 3 + 3


def test_each_further_batch_costs_one_statement(postgres, broker, settings):
    settings.CONNECTAPP_SWEEP_BATCH_SIZE = 100

    assert sweep_queries(settings, due=250) == 1 + 3 * 3 + 3


def test_a_batch_marks_what_it_selects_in_one_statement_in_expiry_order(
    postgres, user, broker, settings
):
    settings.CONNECTAPP_SWEEP_BATCH_SIZE = 3
    # The later a link was made, the sooner it expires.
    soon = timezone.now() + timedelta(hours=1)
    links = [
        LinkedAccountFactory(user=user, expires_at=soon - timedelta(minutes=n)) for n in range(5)
    ]

    with CaptureQueriesContext(connection) as queries:
        assert tasks.refresh_due() == 5

    [first, *_] = [query["sql"] for query in queries if "SKIP LOCKED" in query["sql"]]
    assert first.startswith('UPDATE "connections_refreshschedule" SET "queued_at"')
    assert "ctid = ANY(ARRAY(SELECT" in first and "LIMIT 3 FOR UPDATE SKIP LOCKED" in first
    # Workers take from the right: the soonest expiring first.
    waiting = [json.loads(raw)["body"] for raw in broker.lrange(PROVIDER_QUEUE, 0, -1)]
    taken = [json.loads(base64.b64decode(body))[0][0] for body in reversed(waiting)]
    assert taken == [link.pk for link in reversed(links)]
    assert RefreshSchedule.objects.filter(queued_at__isnull=False).count() == 5


def refresh_queries(user, others: int) -> int:
    LinkedAccount.objects.bulk_create(
        [
            LinkedAccount(user=user, provider="pinterest", external_id=f"other-{others}-{n}")
            for n in range(others)
        ]
    )
    account = pinterest_link(user, f"p{others}")
    mark([account], timezone.now())
    with CaptureQueriesContext(connection) as queries:
        assert services.refresh_queued(account.pk) == "refreshed"
    return len(queries)


@pytest.mark.django_db
def test_a_refresh_makes_a_few_queries_whatever_the_number_of_links(pinterest, user):
    few = refresh_queries(user, 0)

    assert refresh_queries(user, 500) == few
    # BEGIN, lock the row (its owner read along, for the signals), save it with the event and
    # its outbox row in one statement, COMMIT.
    assert few == 4


def throttled_link(settings, user) -> LinkedAccount:
    """Return a Pinterest link whose provider has no slot left this hour: someone took it."""
    settings.CONNECTAPP_RATE_LIMITS = {"pinterest": "1/h"}
    account = pinterest_link(user)
    assert ratelimit.wait_turn("pinterest", max_wait=0) == 0  # someone else took the slot
    return account


@pytest.mark.django_db
def test_a_throttled_refresh_goes_back_to_the_queue_without_asking_the_provider(
    pinterest, user, broker, settings
):
    account = throttled_link(settings, user)

    assert tasks.refresh_account.apply(args=[account.pk, "pinterest"]).get() == "throttled"

    assert standin.calls("token") == []
    assert queued_ids(broker) == [account.pk]
    assert stored(account).last_refreshed_at is None


@pytest.mark.django_db
def test_a_throttled_retry_goes_back_to_the_queue_with_the_retries_it_used(
    pinterest, user, broker, settings
):
    account = throttled_link(settings, user)

    assert tasks.refresh_account.apply(args=[account.pk, "pinterest"], retries=5).get() == (
        "throttled"
    )

    (raw,) = broker.lrange(PROVIDER_QUEUE, 0, -1)
    assert json.loads(raw)["headers"]["retries"] == 5


@pytest.mark.django_db
def test_each_refresh_is_logged_and_counted_and_no_secret_is_shown(pinterest, user, broker, caplog):
    account = pinterest_link(user)
    standin.inject_fault("error", "token", status=503)
    caplog.set_level(logging.INFO, logger="connectapp.workers")

    with pytest.raises(ProviderUnavailable):
        tasks.refresh_account.apply(args=[account.pk], throw=True, retries=tasks.MAX_RETRIES)
    assert tasks.refresh_account.apply(args=[account.pk]).get() == "refreshed"

    lines = [
        record.getMessage() for record in caplog.records if record.name == "connectapp.workers"
    ]
    assert lines[0].startswith(f"op=refresh link={account.pk} attempt=8 provider=pinterest")
    assert "outcome=unavailable duration_ms=" in lines[0]
    assert "outcome=refreshed duration_ms=" in lines[1]
    refreshed = stored(account)
    secrets = (account.access_token, account.refresh_token, refreshed.access_token)
    assert not any(secret in caplog.text for secret in secrets)

    report = io.StringIO()
    call_command("connections", "stats", stdout=report)
    assert re.search(r"^refresh +pinterest +refreshed +1 ", report.getvalue(), re.M)
    assert re.search(r"^refresh +pinterest +unavailable +1 ", report.getvalue(), re.M)
    assert not any(secret in report.getvalue() for secret in secrets)
    exposition = io.StringIO()
    call_command("connections", "stats", "--prometheus", "--reset", stdout=exposition)
    # Prometheus gives label order no meaning (prometheus_client sorts them): compare samples.
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition.getvalue())
        for sample in family.samples
    }
    refreshed = {"operation": "refresh", "provider": "pinterest", "outcome": "refreshed"}
    assert samples[("connectapp_task_outcomes_total", tuple(sorted(refreshed.items())))] == 1
    queue = (("queue", PROVIDER_QUEUE),)
    assert samples[("connectapp_broker_queue_messages", queue)] == 0
    assert metrics.outcome_counts() == []


def test_stats_shows_the_refresh_queue(postgres, user, broker):
    due_links(user, 2)
    assert tasks.refresh_due() == 2
    due_links(user, 1)

    report = io.StringIO()
    call_command("connections", "stats", stdout=report)

    assert "refresh queue: 2 link(s) queued or retrying" in report.getvalue()
    assert "1 due and not yet queued" in report.getvalue()
    assert f"{PROVIDER_QUEUE} 2 waiting" in report.getvalue()


def test_the_verify_sweep_queues_the_longest_unverified_first_within_the_rate_limit(
    postgres, user, broker, settings
):
    settings.CONNECTAPP_DISCOGS_CONSUMER_KEY = "key"
    settings.CONNECTAPP_DISCOGS_CONSUMER_SECRET = "secret"
    settings.CONNECTAPP_RATE_LIMITS = {"discogs": "2/m"}
    settings.CONNECTAPP_VERIFY_INTERVAL_SECONDS = 60
    now = timezone.now()
    never = DiscogsAccountFactory(user=user, last_verified_at=None)
    long_ago = DiscogsAccountFactory(user=user, last_verified_at=now - timedelta(days=2))
    DiscogsAccountFactory(user=user, last_verified_at=now - timedelta(hours=1))
    DiscogsAccountFactory(user=user, status=LinkedAccount.Status.REVOKED, last_verified_at=None)

    assert tasks.verify_all() == 2

    assert queued_ids(broker) == sorted([never.pk, long_ago.pk])
