"""What the Discogs tests share: driving a flow the way a browser does, and reading the database."""

from urllib.parse import parse_qs, urlsplit

from django.test import Client

from connectapp.connections.models import ConnectionEvent, LinkedAccount

CONNECT_URL = "/connections/discogs/connect/"


def start_connect(client: Client) -> str:
    """Press "Connect Discogs"; answers the stand-in's authorize URL the browser is sent to."""
    response = client.post(CONNECT_URL)
    assert response.status_code == 302, response.content.decode()
    return response["Location"]


def answer_at_discogs(client: Client, authorize_url: str, action: str, username: str = "") -> str:
    """Approve or deny on the stand-in's page (served by this same app); answers the callback."""
    parts = urlsplit(authorize_url)
    page = client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200, page.content.decode()
    response = client.post(
        f"{parts.path}?{parts.query}", {"action": action, "username": username or "crate-digger"}
    )
    assert response.status_code == 302, response.content.decode()
    return response["Location"]


def approve(client: Client, username: str = "crate-digger") -> str:
    """Start a flow and approve it as `username`; answers the callback URL, not yet followed."""
    return answer_at_discogs(client, start_connect(client), "approve", username)


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def database_state() -> tuple[list[dict], list[dict]]:
    """Every link and event, secrets included, to show that an attempt changed nothing."""
    return (
        list(LinkedAccount.objects.order_by("pk").values()),
        list(ConnectionEvent.objects.order_by("pk").values()),
    )
