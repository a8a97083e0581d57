"""What the flow tests share: links holding real stand-in tokens, table snapshots, and the URLs
a flow passes through."""

from urllib.parse import parse_qs, urlsplit

from django.contrib.auth import get_user_model

from connectapp import conf
from connectapp.connections.models import ConnectionEvent, LinkedAccount
from connectapp.sandbox.discogs import standin as discogs_standin
from tests.factories import LinkedAccountFactory


def tables() -> dict[str, list[dict]]:
    """Every row the app owns, secrets included (a browser's session is its own business)."""
    return {
        "links": list(LinkedAccount.objects.order_by("pk").values()),
        "events": list(ConnectionEvent.objects.order_by("pk").values()),
        "users": list(get_user_model().objects.order_by("pk").values()),
    }


def discogs_link(user, username: str = "crate-digger", **fields) -> LinkedAccount:
    """A link holding an access grant the Discogs stand-in really issued."""
    grant = discogs_standin.issue_access_token(conf.value("DISCOGS_CONSUMER_KEY"), username)
    return LinkedAccountFactory(
        user=user,
        provider="discogs",
        external_id=str(grant.user_id),
        username=username,
        scopes=[],
        access_token=grant.token,
        token_secret=grant.secret,
        refresh_token="",
        expires_at=None,
        refresh_expires_at=None,
        **fields,
    )


def database_state() -> tuple[list[dict], list[dict]]:
    """Every link and event, secrets included, to show that an attempt changed nothing."""
    return (
        list(LinkedAccount.objects.order_by("pk").values()),
        list(ConnectionEvent.objects.order_by("pk").values()),
    )


def query_of(url: str) -> dict[str, str]:
    """Return the query of `url` as a dict, one value a name."""
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def path_of(url: str) -> str:
    """The callback as the test client requests it (it serves http://testserver)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"
