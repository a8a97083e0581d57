"""`POST /connect-sessions` and the single-use page it answers."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.utils import timezone

from connectapp.connections.models import ConnectSession, SiteUser
from tests.api.conftest import assert_problem

BODY = {
    "user": {"id": "site-42", "email": "ada@site.example", "name": "Ada"},
    "providers": ["pinterest", "discogs"],
    "return_url": "https://site.example/connected?from=connectapp",
}


def create(api, **changes) -> requests.Response:
    return api.post("/connect-sessions", json={**BODY, **changes})


def continue_form(browser: requests.Session, url: str) -> requests.Response:
    """Open the URL and press Continue, the way a person's browser does."""
    page = browser.get(url, timeout=30)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    return browser.post(url, data={"csrfmiddlewaretoken": token}, headers={"Referer": url})


def test_a_session_is_a_single_use_url_valid_at_most_thirty_minutes(api):
    answer = create(api)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    session = ConnectSession.objects.get()
    assert session.expires_at <= timezone.now() + timedelta(minutes=30)
    token = urlsplit(body["url"]).path.rstrip("/").rsplit("/", 1)[-1]
    assert len(token) >= 40 and token not in session.token_hash
    assert (session.site_id, session.providers) == ("site-42", ["pinterest", "discogs"])


@pytest.mark.parametrize(
    "changes",
    [
        {"return_url": "https://evil.example/x"},
        {"return_url": "javascript:alert(1)"},
        {"return_url": "https://site.example.evil.example/x"},
        {"providers": ["myspace"]},
        {"providers": []},
        {"user": {"id": ""}},
    ],
)
def test_bad_requests_are_refused_with_422(api, changes):
    assert_problem(create(api, **changes), 422)
    assert not ConnectSession.objects.exists()


def test_a_key_limited_to_a_provider_cannot_offer_another(client_for):
    assert_problem(create(client_for(providers=["pinterest"])), 422)


def test_opening_signs_in_a_local_user_keyed_by_the_sites_id(api, live_server):
    url = create(api).json()["url"]
    browser = requests.Session()
    page = continue_form(browser, url)
    assert page.status_code == 200, page.text
    assert "Connect Pinterest" in page.text and "Connect Discogs" in page.text
    site_user = SiteUser.objects.get(site_id="site-42")
    assert not site_user.user.has_usable_password()
    assert site_user.user.email == "ada@site.example"
    # The next session of the same site user signs in the same local user.
    continue_form(requests.Session(), create(api).json()["url"])
    assert SiteUser.objects.count() == 1


def test_a_used_expired_or_tampered_url_gets_a_clear_page_and_changes_nothing(api):
    url = create(api).json()["url"]
    continue_form(requests.Session(), url)
    used = requests.get(url, timeout=30)
    assert used.status_code == 410 and "already used" in used.text
    stranger = requests.Session()
    stranger.get(url, timeout=30)
    reused = stranger.post(url, data={}, headers={"Referer": url}, timeout=30)
    assert reused.status_code in (403, 410)
    assert "sessionid" not in stranger.cookies

    tampered = url.rstrip("/")[:-3] + "abc/"
    assert requests.get(tampered, timeout=30).status_code == 404

    expired_url = create(api).json()["url"]
    ConnectSession.objects.filter(used_at=None).update(expires_at=timezone.now())
    page = requests.get(expired_url, timeout=30)
    assert page.status_code == 410 and "expired" in page.text
    assert SiteUser.objects.count() == 1
