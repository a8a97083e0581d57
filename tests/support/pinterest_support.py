"""What the Pinterest tests share: links holding the stand-in's real tokens, and answering on
the stand-in's page the way a browser does."""

from datetime import timedelta
from urllib.parse import urlsplit

from django.test import Client
from django.utils import timezone

from connectapp.connections.models import LinkedAccount
from connectapp.sandbox.pinterest import standin
from tests.factories import LinkedAccountFactory
from tests.support.flows import query_of

CONNECT_URL = "/connections/pinterest/connect/"
CALLBACK = "http://testserver/connections/pinterest/callback/"


def answer_at_pinterest(
    authorize_url: str, decision: str = "approve", username: str = "pinner", lifetime: int = 0
) -> str:
    """Approve or deny on the stand-in's page (served by this same app); answers the callback."""
    browser = Client()
    parts = urlsplit(authorize_url)
    page = browser.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200, page.content.decode()
    form = {**query_of(authorize_url), "decision": decision, "username": username}
    response = browser.post(parts.path, {**form, "access_lifetime": str(lifetime)})
    assert response.status_code == 302, response.content.decode()
    return response["Location"]


def start_connect(client: Client) -> str:
    """Press "Connect Pinterest"; answers the stand-in's authorize URL the browser is sent to."""
    response = client.post(CONNECT_URL)
    assert response.status_code == 302, response.content.decode()
    return response["Location"]


def approve(client: Client, username: str = "pinner") -> str:
    """Start a flow and approve it as `username`; answers the callback URL, not yet followed."""
    return answer_at_pinterest(start_connect(client), "approve", username)


def pinterest_link(
    user, username: str = "pinner", expires_in=timedelta(minutes=-1), **fields
) -> LinkedAccount:
    """A link holding tokens the stand-in really issued; by default its access token expired."""
    answer = standin.issue_tokens(username)
    return LinkedAccountFactory(
        user=user,
        external_id=standin.user_id(username),
        username=username,
        access_token=answer["access_token"],
        refresh_token=answer["refresh_token"],
        expires_at=timezone.now() + expires_in,
        **fields,
    )
