"""Every flow, every outcome, logged at DEBUG everywhere: no token, secret, code or verifier in
what is written, nor in any record our own code makes (before the redaction filter)."""

import io
import json
import logging
import sys

import pytest
from django.conf import settings as django_settings

from connectapp import conf
from connectapp.connections import crypto, services
from connectapp.connections.models import LinkedAccount
from connectapp.connections.services import FLOWS_SESSION_KEY
from connectapp.exceptions import ProviderUnavailable
from connectapp.redaction import RedactSecretsFilter
from tests.support import discogs_support, pinterest_support
from tests.support.flows import path_of, query_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def written():
    """Everything the configured log handlers write, with every logger open at DEBUG."""
    buffer = io.StringIO()
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    levels = {logger: logger.level for logger in loggers}
    streams = {}
    for logger in loggers:
        if logger.level != logging.NOTSET or logger is logging.getLogger():
            logger.setLevel(logging.DEBUG)
        for handler in logger.handlers:
            redacting = any(isinstance(f, RedactSecretsFilter) for f in handler.filters)
            if redacting and handler not in streams:
                streams[handler] = handler.setStream(buffer)
    assert streams, "the LOGGING configuration should have a redacting handler"
    yield buffer
    for handler, stream in streams.items():
        handler.setStream(stream)
    for logger, level in levels.items():
        logger.setLevel(level)


class Secrets:
    """Every secret the flows handle, gathered as they appear."""

    def __init__(self):
        self.values = {
            conf.value("DISCOGS_CONSUMER_SECRET"),
            conf.value("PINTEREST_CLIENT_SECRET"),
            django_settings.SECRET_KEY,
            *conf.value("TOKEN_ENCRYPTION_KEYS"),
        }

    def from_url(self, url: str) -> None:
        params = query_of(url)
        for name in ("code", "state", "oauth_token", "oauth_verifier", "denied"):
            self.values.add(params.get(name, ""))

    def from_links(self) -> None:
        for link in LinkedAccount.objects.all():
            self.values |= {link.access_token, link.token_secret, link.refresh_token}

    def from_session(self, client) -> None:
        for flow in client.session.get(FLOWS_SESSION_KEY, {}).values():
            self.values |= set(json.loads(crypto.decrypt(flow["pending"])).values())

    def found_in(self, text: str) -> list[str]:
        return sorted(secret for secret in self.values if secret and secret in text)


def discogs_flows(client, discogs, secrets: Secrets) -> None:
    denied = discogs_support.start_connect(client)
    secrets.from_url(denied)
    secrets.values.add(discogs.request_token(query_of(denied)["oauth_token"]).secret)
    client.get(discogs_support.answer_at_discogs(client, denied, "deny"))

    authorize = discogs_support.start_connect(client)
    secrets.from_url(authorize)
    secrets.values.add(discogs.request_token(query_of(authorize)["oauth_token"]).secret)
    callback = discogs_support.answer_at_discogs(client, authorize, "approve")
    secrets.from_url(callback)
    forged = callback.replace("oauth_verifier=", "oauth_verifier=forged")
    assert client.get(forged).status_code == 400  # and the flow is spent
    callback = discogs_support.approve(client)
    secrets.from_url(callback)
    assert client.get(callback).status_code == 302
    assert client.get(callback).status_code == 400
    secrets.from_links()

    link = LinkedAccount.objects.get(provider="discogs")
    assert services.verify(link.pk, actor="command") == "verified"
    discogs.inject_fault("rate_limit", "identity", retry_after=30)
    with pytest.raises(ProviderUnavailable):
        services.verify(link.pk)
    discogs.revoke(token=link.access_token)
    assert services.verify(link.pk) == "needs_reconnect"
    callback = discogs_support.approve(client)
    secrets.from_url(callback)
    assert client.get(callback).status_code == 302
    secrets.from_links()
    assert client.post(f"/connections/{link.pk}/disconnect/").status_code == 302


def pinterest_flows(client, pinterest, secrets: Secrets) -> None:
    authorize = pinterest_support.start_connect(client)
    secrets.from_url(authorize)
    secrets.from_session(client)
    denied = pinterest_support.answer_at_pinterest(authorize, "deny")
    client.get(path_of(denied))

    authorize = pinterest_support.start_connect(client)
    secrets.from_url(authorize)
    secrets.from_session(client)
    callback = pinterest_support.answer_at_pinterest(authorize)
    secrets.from_url(callback)
    bad_code = callback.replace("code=", "code=x")
    assert client.get(path_of(bad_code)).status_code == 400
    authorize = pinterest_support.start_connect(client)
    secrets.from_session(client)
    callback = pinterest_support.answer_at_pinterest(authorize)
    secrets.from_url(callback)
    assert client.get(path_of(callback)).status_code == 302
    assert client.get(path_of(callback)).status_code == 400
    secrets.from_links()

    link = LinkedAccount.objects.get(provider="pinterest")
    assert services.refresh(link.pk, force=True) == "refreshed"
    secrets.from_links()
    pinterest.inject_fault("error", "token", status=500)
    with pytest.raises(ProviderUnavailable):
        services.refresh(link.pk, force=True)
    secrets.values.add(services.get_access_token(LinkedAccount.objects.get(pk=link.pk)))
    assert services.verify(link.pk) == "verified"
    pinterest.revoke_user("pinner")
    assert services.refresh(link.pk, force=True) == "needs_reconnect"
    callback = pinterest_support.approve(client)
    secrets.from_url(callback)
    assert client.get(path_of(callback)).status_code == 302
    secrets.from_links()
    assert client.post(f"/connections/{link.pk}/disconnect/").status_code == 302


def test_no_secret_is_logged_by_any_flow(discogs, pinterest, signed_in, settings, caplog, written):
    caplog.set_level(logging.DEBUG)
    settings.CONNECTAPP_CONNECT_RATE_LIMIT = "0/60"
    secrets = Secrets()

    discogs_flows(signed_in, discogs, secrets)
    pinterest_flows(signed_in, pinterest, secrets)
    settings.CONNECTAPP_CONNECT_RATE_LIMIT = "1/60"
    signed_in.post("/connections/pinterest/connect/")
    secrets.from_session(signed_in)
    assert signed_in.post("/connections/discogs/connect/").status_code == 429

    ours = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if record.name.startswith("connectapp")
    )
    output = written.getvalue()
    assert len(secrets.values) > 30
    assert ours.count("\n") >= 5, "the flows should have logged something to look at"
    assert "DEBUG" in output, "libraries' DEBUG records should have been written too"
    assert secrets.found_in(ours) == []
    assert secrets.found_in(output) == []


def test_a_traceback_is_scrubbed_like_the_message():
    try:
        raise ValueError("GET /callback/?code=the-code&state=the-state {'token': 'the-token'}")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())

    RedactSecretsFilter().filter(record)

    text = logging.Formatter().format(record)
    assert "ValueError" in text
    assert not [secret for secret in ("the-code", "the-state", "the-token") if secret in text]
