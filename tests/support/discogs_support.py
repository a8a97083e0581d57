"""What the Discogs tests share: driving a flow the way a browser does."""

from urllib.parse import urlsplit

from django.test import Client

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
