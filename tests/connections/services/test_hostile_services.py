"""The services hold against a provider that misbehaves on purpose (issue 16, service side).

Each test points Pinterest (or a generic OAuth 2.0 provider read from TOML) at `HostileServer`,
a real HTTP server on 127.0.0.1, and runs the real services against the real database: the
command, the admin action and the worker carry on and record what happened.
"""

import io
import json
import re
from collections.abc import Iterable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler

import pytest
from cryptography.fernet import Fernet
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.utils import timezone

from connectapp import conf
from connectapp.connections import services, tasks
from connectapp.connections.models import (
    AnnouncedEvent,
    ConnectionEvent,
    LinkedAccount,
    RefreshSchedule,
)
from tests.factories import LinkedAccountFactory
from tests.providers.hostile_server import HostileServer
from tests.support.providers_file import generic_provider
from tests.support.replies import reply_json

Status = LinkedAccount.Status
GOOD_TOKEN = {"access_token": "n" * 40, "token_type": "bearer", "expires_in": 3600}
#: Token answers that cannot be used (issue 16 lists more; tests/providers checks them all).
MALFORMED = {
    "expires_in 1e308": {**GOOD_TOKEN, "expires_in": "1e308"},
    "refresh token an object": {**GOOD_TOKEN, "refresh_token": {"a": 1}},
    "access token with CR LF": {**GOOD_TOKEN, "access_token": "a\r\nX-Evil: 1"},
}


@pytest.fixture
def hostile_pinterest(settings, hostile):
    """Pinterest's token and identity endpoints are the hostile server."""
    settings.CONNECTAPP_HTTP_MAX_RESPONSE_BYTES = 64 * 1024
    settings.CONNECTAPP_PINTEREST_CLIENT_ID = "hostile-client"
    settings.CONNECTAPP_PINTEREST_CLIENT_SECRET = "hostile-secret"
    settings.CONNECTAPP_PINTEREST_API_URL = hostile.url
    settings.CONNECTAPP_PINTEREST_AUTHORIZE_URL = f"{hostile.url}/authorize"
    return hostile


def in_turn(server: HostileServer, path: str, bodies: Iterable[object]) -> None:
    """Answer the requests to `path` with `bodies` as JSON, one each, the last one from then on."""
    remaining = list(bodies)

    def answer(handler: BaseHTTPRequestHandler) -> None:
        reply_json(handler, remaining.pop(0) if len(remaining) > 1 else remaining[0])

    server.answer(answer, path)


def due_link(*, queued: bool = False, **fields) -> LinkedAccount:
    link = LinkedAccountFactory(**{"expires_at": timezone.now() + timedelta(minutes=1), **fields})
    if queued:  # as the sweep leaves a link it enqueued
        RefreshSchedule.objects.filter(pk=link.pk).update(queued_at=timezone.now())
    return link


def queued_at(link: LinkedAccount):
    return RefreshSchedule.objects.get(pk=link.pk).queued_at


def last_event(link: LinkedAccount) -> ConnectionEvent:
    return link.events.order_by("-pk").first()


# --- Item 3: an unusable answer is recorded and the others carry on ------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("malformed", list(MALFORMED))
def test_the_refresh_command_reports_an_unusable_answer_and_refreshes_the_next_link(
    hostile_pinterest, malformed
):
    first, second = due_link(), due_link()
    in_turn(hostile_pinterest, "/oauth/token", [MALFORMED[malformed], GOOD_TOKEN])
    out = io.StringIO()

    call_command("connections", "refresh", str(first.pk), str(second.pk), stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"link {first.pk}: provider unavailable (Pinterest answered")
    assert lines[1] == f"link {second.pk}: refreshed"
    first.refresh_from_db()
    assert (first.status, first.access_token) == (Status.ACTIVE, first.access_token)
    event = last_event(first)
    assert (event.kind, event.outcome, event.actor) == ("refreshed", "transient", "command")
    assert "cannot be used" in event.detail and "1e308" not in event.detail
    assert LinkedAccount.objects.get(pk=second.pk).access_token == GOOD_TOKEN["access_token"]


@pytest.mark.django_db
def test_the_admin_refresh_reports_an_unusable_answer_and_refreshes_the_next_link(
    admin_client, hostile_pinterest
):
    first, second = due_link(username="alpha"), due_link(username="beta")
    in_turn(hostile_pinterest, "/oauth/token", [MALFORMED["expires_in 1e308"], GOOD_TOKEN])

    response = admin_client.post(
        "/admin/connections/linkedaccount/",
        {"action": "refresh_now", "index": 0, "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Refresh: 1 link succeeded." in page
    assert f"Refresh: 1 link failed — pinterest:alpha (#{first.pk}): Pinterest answered" in page
    assert "cannot be used" in page
    event = last_event(first)
    assert (event.kind, event.outcome) == ("refreshed", "transient")
    assert event.actor.startswith("admin:")
    assert LinkedAccount.objects.get(pk=second.pk).access_token == GOOD_TOKEN["access_token"]


@pytest.mark.django_db
def test_a_worker_that_gets_only_unusable_answers_records_each_and_releases_the_queued_mark(
    hostile_pinterest,
):
    link = due_link(queued=True)
    hostile_pinterest.json(MALFORMED["expires_in 1e308"], path="/oauth/token")

    result = tasks.refresh_account.apply(args=[link.pk, "pinterest"], retries=tasks.MAX_RETRIES)

    assert result.failed()
    link.refresh_from_db()
    assert queued_at(link) is None
    assert link.status == Status.ACTIVE
    event = last_event(link)
    assert (event.kind, event.outcome, event.actor) == ("refreshed", "transient", "worker")
    assert "cannot be used" in event.detail


@pytest.mark.django_db
def test_a_worker_whose_refresh_breaks_unexpectedly_records_it_and_releases_the_queued_mark(
    hostile_pinterest, settings
):
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    link = due_link(queued=True)
    settings.CONNECTAPP_TOKEN_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode()
    ]  # the old key is gone
    hostile_pinterest.json(GOOD_TOKEN, path="/oauth/token")

    result = tasks.refresh_account.apply(args=[link.pk, "pinterest"])

    assert result.failed()
    link = LinkedAccount.objects.defer("access_token", "refresh_token").get(pk=link.pk)
    assert queued_at(link) is None
    event = last_event(link)
    assert (event.kind, event.outcome, event.actor) == ("refreshed", "transient", "worker")
    assert event.detail == "the refresh failed unexpectedly (DecryptionError); see the log"
    assert hostile_pinterest.requests == []


# --- Item 4: an answer about another account is refused ------------------------------------

ALICE = {"id": "alice-id", "username": "alice"}
MALLORY = {"id": "mallory-id", "username": "mallory"}


def alices_link(**fields) -> LinkedAccount:
    return due_link(external_id=ALICE["id"], username=ALICE["username"], **fields)


def assert_refused_as_another_account(link: LinkedAccount, before: LinkedAccount) -> None:
    link.refresh_from_db()
    assert link.status == Status.ERROR
    assert "answered for another account" in link.last_error
    assert (link.external_id, link.username) == (ALICE["id"], ALICE["username"])
    assert (link.access_token, link.refresh_token) == (before.access_token, before.refresh_token)
    event = last_event(link)
    assert (event.kind, event.outcome) == ("error", "failed")
    assert event.announcement.type == "link.error"
    assert "mallory" not in event.detail


@pytest.mark.django_db
def test_a_refresh_answered_with_another_accounts_tokens_is_refused(hostile_pinterest):
    link = alices_link()
    hostile_pinterest.json(GOOD_TOKEN | {"refresh_token": "m" * 40}, path="/oauth/token")
    hostile_pinterest.json(MALLORY, path="/user_account")

    outcome = services.refresh(link.pk, actor="command", force=True)

    assert outcome == "error"
    assert_refused_as_another_account(link, link)
    assert not LinkedAccount.objects.filter(external_id=MALLORY["id"]).exists()
    # In error, the link is no longer refreshed (its old tokens are not spent again).
    assert services.refresh(link.pk, force=True) == "skipped"


@pytest.mark.django_db
def test_a_refresh_answered_for_the_same_account_is_saved(hostile_pinterest):
    link = alices_link()
    hostile_pinterest.json(GOOD_TOKEN, path="/oauth/token")
    hostile_pinterest.json(ALICE, path="/user_account")

    assert services.refresh(link.pk, force=True) == "refreshed"

    link.refresh_from_db()
    assert (link.status, link.access_token) == (Status.ACTIVE, GOOD_TOKEN["access_token"])


@pytest.mark.django_db
def test_a_verification_answered_with_another_account_never_renames_the_link(hostile_pinterest):
    link = alices_link(expires_at=timezone.now() + timedelta(days=20))
    hostile_pinterest.json(MALLORY, path="/user_account")

    outcome = services.verify(link.pk, actor="command")

    assert outcome == "error"
    assert_refused_as_another_account(link, link)
    assert not link.events.filter(kind="verified").exists()


@pytest.mark.django_db
def test_the_verify_command_reports_another_account(hostile_pinterest):
    link = alices_link(expires_at=timezone.now() + timedelta(days=20))
    hostile_pinterest.json(MALLORY, path="/user_account")
    out = io.StringIO()

    call_command("connections", "verify", str(link.pk), stdout=out)

    assert out.getvalue() == f"link {link.pk}: error\n"
    assert LinkedAccount.objects.get(pk=link.pk).username == ALICE["username"]


# --- Item 6: a link without a refresh token lasts until its access token expires ----------


@pytest.fixture
def no_refresh_provider(use_providers, hostile):
    """A generic OAuth 2.0 provider from TOML whose token endpoint issues no refresh token."""
    use_providers(generic_provider("norefresh", hostile.url, display_name="No Refresh"))
    hostile.json(
        {"access_token": "h" * 40, "token_type": "bearer", "expires_in": 3600}, path="/token"
    )
    hostile.json({"sub": "hour-1", "preferred_username": "hourly"}, path="/userinfo")
    return hostile


def connect_without_refresh_token(client, user) -> LinkedAccount:
    client.force_login(user)
    started = client.post("/connections/norefresh/connect/")
    assert started.status_code == 302, started.content.decode()
    state = started["Location"].split("state=")[1].split("&")[0]
    done = client.get(f"/connections/norefresh/callback/?code=c&state={state}")
    assert done.status_code == 302, done.content.decode()
    link = LinkedAccount.objects.get(provider="norefresh")
    assert (link.status, link.refresh_token) == (Status.ACTIVE, "")
    return link


def sweep(settings) -> list[int]:
    """Claim what the refresh sweep claims for the provider, and refresh each as a worker does."""
    claimed = [
        link_id
        for batch in services.claim_due_refreshes(
            "norefresh", conf.value("REFRESH_WINDOW_SECONDS"), batch_size=100
        )
        for link_id in batch
    ]
    for link_id in claimed:
        services.refresh_queued(link_id)
    return claimed


@pytest.mark.django_db
def test_a_link_without_a_refresh_token_stays_active_until_its_access_token_expires(
    client, user, settings, no_refresh_provider
):
    link = connect_without_refresh_token(client, user)
    token_requests = len(no_refresh_provider.requests)

    assert sweep(settings) == []
    out = io.StringIO()
    call_command("connections", "refresh", str(link.pk), stdout=out)
    call_command("connections", "refresh", "--due", stdout=out)

    assert out.getvalue() == f"link {link.pk}: not_due\n"
    link.refresh_from_db()
    assert link.status == Status.ACTIVE
    assert len(no_refresh_provider.requests) == token_requests
    page = client.get("/connections/").content.decode()
    assert "stops accepting this connection on" in page


@pytest.mark.django_db
def test_a_link_without_a_refresh_token_needs_reconnect_once_its_access_token_expired(
    client, user, settings, no_refresh_provider
):
    link = connect_without_refresh_token(client, user)
    LinkedAccount.objects.filter(pk=link.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert sweep(settings) == [link.pk]

    link.refresh_from_db()
    assert link.status == Status.NEEDS_RECONNECT
    assert last_event(link).kind == "needs_reconnect"


# --- Item 7: a provider's text is kept only without the credentials it echoes --------------

#: A token that is no one's here: a bare token-looking string in a provider's text goes too.
STRANGER_TOKEN = "Zx81kQ0pLm3vB7nR2sT9wY4u"


def echoing_refusal(*secrets: str) -> dict:
    echoed = " ".join(secrets)
    return {
        "error": "invalid_grant",
        "error_description": f"grant {echoed} refused; also {STRANGER_TOKEN}\x1b[2J\x1b[H\r\nok",
    }


def assert_nowhere(text: str, *secrets: str) -> None:
    for secret in (*secrets, STRANGER_TOKEN, "\x1b"):
        assert secret not in text


@pytest.mark.django_db
def test_a_refusal_echoing_the_refresh_token_stores_and_shows_none_of_it(
    client, hostile_pinterest, caplog
):
    link = due_link()
    refresh_token = link.refresh_token
    hostile_pinterest.json(echoing_refusal(refresh_token), status=400, path="/oauth/token")

    assert services.refresh(link.pk, force=True) == "needs_reconnect"

    link.refresh_from_db()
    assert link.status == Status.NEEDS_RECONNECT
    assert "invalid_grant: grant [redacted] refused" in link.last_error
    listing = io.StringIO()
    call_command("connections", "list", "--json", stdout=listing)
    client.force_login(link.user)
    page = client.get("/connections/").content.decode()
    stored = [link.last_error, *link.events.values_list("detail", flat=True)]
    announced = [json.dumps(event.payload) for event in AnnouncedEvent.objects.all()]
    for text in (*stored, *announced, listing.getvalue(), page, caplog.text):
        assert_nowhere(text, refresh_token)


@pytest.mark.django_db
def test_a_callback_refusal_echoing_the_code_and_verifier_shows_none_of_it(
    client, user, hostile_pinterest, caplog
):
    client.force_login(user)
    started = client.post("/connections/pinterest/connect/")
    state = started["Location"].split("state=")[1].split("&")[0]
    code = "c0de-" + "q7" * 12
    hostile_pinterest.json(
        echoing_refusal(code, state, "hostile-secret"), status=400, path="/oauth/token"
    )

    response = client.get(f"/connections/pinterest/callback/?code={code}&state={state}")

    page = response.content.decode()
    assert response.status_code == 400
    # The message (the language form elsewhere on the page carries the callback's own URL).
    (message,) = re.findall(r'role="alert">(.*?)</p>', page, re.S)
    assert "did not accept this connection attempt (invalid_grant: grant [redacted]" in message
    (sent,) = hostile_pinterest.requests
    verifier = dict(part.split("=") for part in sent.body.decode().split("&"))["code_verifier"]
    assert_nowhere(message, code, state, verifier, "hostile-secret")
    assert_nowhere(caplog.text, code, verifier, "hostile-secret")


@pytest.mark.django_db
def test_the_list_escapes_control_characters_in_names():
    LinkedAccountFactory(username="\x1b[2J\x1b[Hmallory\r")
    out = io.StringIO()

    call_command("connections", "list", stdout=out)

    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()
    assert "\\x1b[2J\\x1b[Hmallory" in out.getvalue()


# --- Item 8: a used flow never comes back -------------------------------------------------


@pytest.mark.django_db
def test_a_connect_started_while_another_tab_used_a_flow_does_not_bring_it_back(
    client, user, hostile_pinterest
):
    client.force_login(user)
    started = client.post("/connections/pinterest/connect/")
    state = started["Location"].split("state=")[1].split("&")[0]
    # Tab 2 starts connecting: its request loaded the session while the flow was pending…
    tab_two = SessionStore(session_key=client.session.session_key)
    assert services.FLOWS_SESSION_KEY in tab_two  # loaded now
    # …then tab 1's callback used the flow…
    hostile_pinterest.json(GOOD_TOKEN | {"refresh_token": "r" * 40}, path="/oauth/token")
    hostile_pinterest.json(ALICE, path="/user_account")
    callback = f"/connections/pinterest/callback/?code=c0de-once&state={state}"
    assert client.get(callback).status_code == 302
    # …and tab 2's connect is written, and its request's session saved, after that.
    services.begin_connect(tab_two, user, "pinterest", "http://testserver/cb/")
    tab_two.save()

    replayed = client.get(callback)

    assert replayed.status_code == 400
    assert "already used" in replayed.content.decode()
    exchanges = [r for r in hostile_pinterest.requests if r.path == "/oauth/token"]
    assert len(exchanges) == 1
    assert len(SessionStore(session_key=tab_two.session_key)[services.FLOWS_SESSION_KEY]) == 1
