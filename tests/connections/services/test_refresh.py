"""Keeping Pinterest tokens alive: refresh, its failures, the schedule and on-demand tokens.

Every token request goes over real HTTP to the Pinterest stand-in; the race runs on real
PostgreSQL row locks.
"""

import io
import threading
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from connectapp.celery import app
from connectapp.connections import services, tasks
from connectapp.connections.models import ConnectionEvent, LinkedAccount
from connectapp.exceptions import AccessRevoked, ProviderUnavailable
from connectapp.sandbox.pinterest import standin
from tests.factories import DiscogsAccountFactory
from tests.support.pinterest_support import pinterest_link

Status = LinkedAccount.Status
THREADS = 8


@pytest.fixture
def eager_tasks():
    """Tasks run in this process as they are enqueued, as a worker would run them."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def snapshot(account: LinkedAccount) -> dict:
    return LinkedAccount.objects.filter(pk=account.pk).values().get()


@pytest.mark.django_db
def test_a_refresh_saves_the_rotated_refresh_token_and_moves_the_expiry_forward(pinterest, user):
    account = pinterest_link(user, refresh_expires_at=timezone.now() + timedelta(days=20))
    old_access, old_refresh = account.access_token, account.refresh_token

    assert services.refresh(account.pk) == "refreshed"

    account.refresh_from_db()
    assert account.access_token not in ("", old_access)
    assert account.refresh_token not in ("", old_refresh)
    assert standin.refresh_token_is_live(account.refresh_token)
    assert not standin.refresh_token_is_live(old_refresh)
    assert account.expires_at > timezone.now() + timedelta(days=29)
    assert account.refresh_expires_at > timezone.now() + timedelta(days=364)
    assert account.last_refreshed_at is not None
    event = account.events.get()
    assert (event.kind, event.outcome, event.actor) == ("refreshed", "ok", "worker")
    assert [call.grant_type for call in standin.calls("token")] == ["refresh_token"]


@pytest.mark.django_db
def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one_and_its_expiry(pinterest, user):
    standin.set_continuous_refresh(False)
    refresh_expires_at = timezone.now() + timedelta(days=200)
    account = pinterest_link(user, refresh_expires_at=refresh_expires_at)
    old_access, old_refresh = account.access_token, account.refresh_token

    assert services.refresh(account.pk) == "refreshed"

    account.refresh_from_db()
    assert account.access_token != old_access
    assert account.refresh_token == old_refresh
    assert account.refresh_expires_at == refresh_expires_at
    assert account.expires_at > timezone.now() + timedelta(days=29)


@pytest.mark.django_db
def test_a_link_not_due_is_left_alone_unless_forced(pinterest, user):
    account = pinterest_link(user, expires_in=timedelta(days=20))

    assert services.refresh(account.pk) == "not_due"
    assert standin.calls("token") == []
    assert services.refresh(account.pk, actor="command", force=True) == "refreshed"


@pytest.mark.django_db
def test_invalid_grant_moves_the_link_to_needs_reconnect_and_the_user_is_told(
    pinterest, user, signed_in
):
    account = pinterest_link(user)
    standin.revoke_user("pinner")

    assert services.refresh(account.pk) == "needs_reconnect"

    account.refresh_from_db()
    assert account.status == Status.NEEDS_RECONNECT
    assert "invalid_grant" in account.last_error
    event = account.events.get()
    assert (event.kind, event.outcome) == ("needs_reconnect", "failed")
    page = signed_in.get("/connections/").content.decode()
    assert "Pinterest no longer accepts this connection. Reconnect to keep it working." in page
    assert services.refresh(account.pk) == "skipped"
    assert len(standin.calls("token")) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("error", {"status": 500}),
        ("error", {"status": 502}),
        ("rate_limit", {"retry_after": 90}),
        ("garbage", {}),
        ("latency", {"delay": 1.0}),
    ],
)
def test_an_outage_leaves_the_link_untouched_for_a_retry(pinterest, user, settings, kind, options):
    settings.CONNECTAPP_HTTP_TIMEOUT = 0.3
    account = pinterest_link(user)
    before = snapshot(account)
    standin.inject_fault(kind, "token", **options)

    with pytest.raises(ProviderUnavailable) as raised:
        services.refresh(account.pk)

    assert raised.value.retry_after == options.get("retry_after")
    assert snapshot(account) == before
    assert standin.refresh_token_is_live(account.refresh_token)
    event = account.events.get()
    assert (event.kind, event.outcome) == ("refreshed", "transient")
    assert services.refresh(account.pk) == "refreshed"


@pytest.mark.django_db
def test_the_refresh_task_retries_an_outage_until_pinterest_answers(pinterest, user, eager_tasks):
    account = pinterest_link(user)
    standin.inject_fault("error", "token", status=503, times=2)

    result = tasks.refresh_account.apply(args=[account.pk])

    assert result.get() == "refreshed"
    assert len(standin.calls("token")) == 3
    account.refresh_from_db()
    assert account.status == Status.ACTIVE
    assert standin.refresh_token_is_live(account.refresh_token)
    outcomes = list(account.events.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == ["transient", "transient", "ok"]


@pytest.fixture
def broker_queue(redis_url):
    """The real Redis broker's provider queue, emptied before and after."""
    with app.connection_for_write() as broker:
        broker.default_channel.queue_purge(django_settings.CONNECTAPP_PROVIDER_QUEUE)
        yield broker
        broker.default_channel.queue_purge(django_settings.CONNECTAPP_PROVIDER_QUEUE)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fault", "retries", "lowest", "highest"),
    [
        ({"kind": "error", "status": 500}, 0, 22.5, 37.5),
        ({"kind": "error", "status": 500}, 3, 180, 300),
        ({"kind": "rate_limit", "retry_after": 900}, 0, 900, 900),
    ],
)
def test_a_retry_backs_off_exponentially_with_jitter_and_honours_retry_after(
    pinterest, user, broker_queue, fault, retries, lowest, highest
):
    account = pinterest_link(user)
    options = dict(fault)
    standin.inject_fault(options.pop("kind"), "token", **options)
    tasks.refresh_account.push_request(
        id="refresh-1", args=[account.pk], kwargs={}, retries=retries, called_directly=False
    )
    try:
        with pytest.raises(Retry) as raised:
            tasks.refresh_account.run(account.pk)
    finally:
        tasks.refresh_account.pop_request()

    assert lowest <= raised.value.when <= highest
    provider_queue = django_settings.CONNECTAPP_PROVIDER_QUEUE
    assert broker_queue.default_channel.client.llen(provider_queue) == 1
    assert LinkedAccount.objects.get(pk=account.pk).status == Status.ACTIVE


@pytest.mark.django_db
def test_the_schedule_refreshes_the_links_due_and_no_others(pinterest, user, eager_tasks):
    due = pinterest_link(user, "due-soon", expires_in=timedelta(days=1))
    later = pinterest_link(user, "later", expires_in=timedelta(days=20))
    broken = pinterest_link(user, "broken", status=Status.NEEDS_RECONNECT)
    discogs = DiscogsAccountFactory(user=user)
    before = {link.pk: snapshot(link) for link in (later, broken, discogs)}

    assert tasks.refresh_due() == 1

    due.refresh_from_db()
    assert due.expires_at > timezone.now() + timedelta(days=29)
    assert {link.pk: snapshot(link) for link in (later, broken, discogs)} == before
    assert len(standin.calls("token")) == 1


@pytest.mark.django_db
def test_the_refresh_window_is_configurable(pinterest, user, eager_tasks, settings):
    settings.CONNECTAPP_REFRESH_WINDOW_SECONDS = 25 * 24 * 60 * 60
    pinterest_link(user, expires_in=timedelta(days=20))

    assert tasks.refresh_due() == 1


@pytest.mark.django_db
def test_the_refresh_command_reports_one_line_per_link(pinterest, user):
    due = pinterest_link(user, "due-soon")
    revoked = pinterest_link(user, "gone-away")
    standin.revoke_user("gone-away")
    out = io.StringIO()

    call_command("connections", "refresh", "--due", stdout=out)

    lines = sorted(out.getvalue().splitlines())
    assert lines == sorted([f"link {due.pk}: refreshed", f"link {revoked.pk}: needs_reconnect"])


@pytest.mark.django_db
def test_get_access_token_hands_out_a_valid_token_without_asking_pinterest(pinterest, user):
    account = pinterest_link(user, expires_in=timedelta(days=10))

    assert services.get_access_token(account) == account.access_token
    assert standin.calls() == []


@pytest.mark.django_db
def test_get_access_token_refreshes_an_expired_token_first(pinterest, user):
    account = pinterest_link(user)
    old_access = account.access_token

    token = services.get_access_token(account)

    assert token != old_access
    assert token == LinkedAccount.objects.get(pk=account.pk).access_token
    assert standin.account_for(token)["username"] == "pinner"
    assert account.events.get().actor == "on-demand"


@pytest.mark.django_db
def test_get_access_token_uses_the_current_row_not_a_stale_copy(pinterest, user):
    account = pinterest_link(user)
    stale = LinkedAccount.objects.get(pk=account.pk)
    services.refresh(account.pk)

    assert services.get_access_token(stale) == LinkedAccount.objects.get(pk=account.pk).access_token
    assert len(standin.calls("token")) == 1


@pytest.mark.django_db
def test_get_access_token_during_an_outage(pinterest, user):
    nearly = pinterest_link(user, "nearly", expires_in=timedelta(minutes=2))
    expired = pinterest_link(user, "expired")
    standin.inject_fault("error", "token", status=500, times=2)

    assert services.get_access_token(nearly) == nearly.access_token
    with pytest.raises(ProviderUnavailable):
        services.get_access_token(expired)


@pytest.mark.django_db
def test_get_access_token_of_a_link_needing_reconnect_is_refused(pinterest, user):
    account = pinterest_link(user)
    standin.revoke_user("pinner")

    with pytest.raises(AccessRevoked):
        services.get_access_token(account)
    assert LinkedAccount.objects.get(pk=account.pk).status == Status.NEEDS_RECONNECT


@pytest.mark.django_db
def test_a_refresh_token_about_to_expire_asks_the_user_to_reconnect_in_time(
    pinterest, user, signed_in, settings
):
    settings.CONNECTAPP_RECONNECT_WARNING_SECONDS = 14 * 24 * 60 * 60
    pinterest_link(user, "a-soon", refresh_expires_at=timezone.now() + timedelta(days=5))
    pinterest_link(user, "b-fine", refresh_expires_at=timezone.now() + timedelta(days=300))

    page = signed_in.get("/connections/").content.decode()

    assert page.count("stops accepting this connection on") == 1
    soon = page[page.index("<strong>a-soon</strong>") : page.index("<strong>b-fine</strong>")]
    assert "Reconnect before then to keep it working." in soon


def _in_threads(operation) -> list:
    """Run `operation` in THREADS threads at once, each with its own database connection."""
    barrier = threading.Barrier(THREADS)
    results: list = [None] * THREADS

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = operation()
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _assert_refreshed_once(account: LinkedAccount, results: list) -> None:
    assert not [result for result in results if isinstance(result, Exception)], results
    assert len(standin.calls("token")) == 1
    account.refresh_from_db()
    assert account.status == Status.ACTIVE
    assert standin.account_for(account.access_token)["username"] == "pinner"
    assert standin.refresh_token_is_live(account.refresh_token)
    assert account.expires_at > timezone.now() + timedelta(days=29)
    kinds = ConnectionEvent.objects.filter(account=account).values_list("kind", flat=True)
    assert list(kinds) == ["refreshed"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("force", [False, True], ids=["when due", "forced"])
def test_concurrent_refreshes_of_one_link_make_one_token_request(postgres, pinterest, user, force):
    account = pinterest_link(user)
    # Pinterest answers slowly, so every thread is waiting on the lock while the first refreshes.
    standin.inject_fault("latency", "token", delay=0.5)

    results = _in_threads(lambda: services.refresh(account.pk, force=force))

    _assert_refreshed_once(account, results)
    assert sorted(results) == ["already_refreshed"] * (THREADS - 1) + ["refreshed"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_of_get_access_token_all_get_the_newest_token(postgres, pinterest, user):
    account = pinterest_link(user)
    standin.inject_fault("latency", "token", delay=0.5)

    results = _in_threads(
        lambda: services.get_access_token(LinkedAccount.objects.get(pk=account.pk))
    )

    _assert_refreshed_once(account, results)
    assert set(results) == {account.access_token}
