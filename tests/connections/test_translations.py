"""The pages and mail speak German, French and Spanish: every word a person reads there is
translated, whether a template or the Python code (statuses, scope words, messages) says it.

Each page is rendered in English and in the other language; a word of the English page that
is still on the translated one is English left over, unless it is a proper name, a name from
the fixtures, or a word the language shares with English.
"""

import re
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from connectapp.connections import notifications
from connectapp.connections.models import LinkedAccount
from connectapp.connections.services import connect_sessions
from tests.factories import DiscogsAccountFactory, LinkedAccountFactory

pytestmark = pytest.mark.django_db

LANGUAGES = ["de", "fr", "es"]
#: Names, not words: the providers, the product, the people and accounts in the fixtures, and
#: the languages the switch offers in their own names.
PROPER_NAMES = {"discogs", "pinterest", "connectapp", "alice"} | {
    "english",
    "deutsch",
    "français",
    "español",
}
#: Words that are words of the language too, where its translations use them.
SHARED_WORDS = {
    "de": {"problem", "in", "app", "sandbox", "option", "link"},
    "fr": {"attention", "services", "site", "active", "collection", "minutes", "option"},
    "es": {"no", "error", "real", "token"},
}
#: The usernames of the fixtures' links, and of a connect session's user, word by word.
FIXTURE_NAMES = {"crate", "digger", "pins", "ok", "refused", "broken", "spare", "site"}


class _Text(HTMLParser):
    """Collect what a person reads or hears: text, titles, labels and option names."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in {"style", "script"}:
            self._hidden += 1
        for name, value in attrs:
            if name in {"title", "aria-label", "alt", "placeholder"} and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in {"style", "script"}:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def words_of(text: str) -> set[str]:
    """Return the lower-cased words (letters only, two or more) in `text`, leaving out URLs."""
    text = re.sub(r"https?://\S+", " ", text)
    return {word.lower() for word in re.findall(r"[^\W\d_]{2,}", text)}


def page_words(html: str) -> set[str]:
    """Return the words a person reads on the page."""
    parser = _Text()
    parser.feed(html)
    return words_of(" ".join(parser.parts))


@pytest.fixture
def links(user, settings, configured_providers):
    settings.CONNECTAPP_PINTEREST_SCOPES = ["user_accounts:read", "boards:read"]
    now = timezone.now()
    DiscogsAccountFactory(user=user, username="crate-digger", last_verified_at=now)
    LinkedAccountFactory(user=user, username="pins-ok", refresh_expires_at=now + timedelta(days=3))
    LinkedAccountFactory(
        user=user,
        username="pins-refused",
        status=LinkedAccount.Status.NEEDS_RECONNECT,
        last_error_at=now - timedelta(days=1),
    )
    LinkedAccountFactory(user=user, username="pins-broken", status=LinkedAccount.Status.ERROR)


def _english_left(english: set[str], translated: set[str], language: str) -> set[str]:
    allowed = PROPER_NAMES | SHARED_WORDS[language] | FIXTURE_NAMES
    return (english & translated) - allowed


def _page_after_disconnecting(client, user, language: str):
    """Return the connections page as it answers after disconnecting a link: with its flash
    message, in `language`."""
    spare = LinkedAccountFactory(user=user, username="pins-spare")
    return client.post(
        f"/connections/{spare.pk}/disconnect/", HTTP_ACCEPT_LANGUAGE=language, follow=True
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_connections_page_has_no_english_left(signed_in, user, links, language):
    english = _page_after_disconnecting(signed_in, user, "en").content.decode()
    translated = _page_after_disconnecting(signed_in, user, language)

    assert translated.status_code == 200
    page = translated.content.decode()
    assert f'<html lang="{language}">' in page
    # What the Python code says is on both pages: the statuses (a link needing reconnect, one
    # in error), the scope words and the flash message.
    for text in ("Needs reconnect", "Error", "See your public boards", "Disconnected Pinterest"):
        assert text in english
    left = _english_left(page_words(english), page_words(page), language)
    assert not left, f"English left on the {language} page: {sorted(left)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_provider_not_configured_is_explained_in_the_language(signed_in, settings, language):
    settings.CONNECTAPP_DISCOGS_CONSUMER_KEY = ""
    english = signed_in.get("/connections/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    translated = signed_in.get("/connections/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert "Not configured on this site." in english
    assert not _english_left(page_words(english), page_words(translated), language)


def _reconnect_mail(account, language: str, settings) -> str:
    """Return the subject and body of the reconnect mail a site in `language` sends."""
    settings.LANGUAGE_CODE = language
    settings.CONNECTAPP_PUBLIC_URL = "https://example.org"
    mail.outbox.clear()
    notifications.needs_reconnect(account)
    (message,) = mail.outbox
    return f"{message.subject}\n{message.body}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_reconnect_email_has_no_english_left(user, settings, language):
    user.email = "alice@example.org"
    user.save()
    account = LinkedAccountFactory(user=user, username="pins-refused")

    english = _reconnect_mail(account, "en", settings)
    translated = _reconnect_mail(account, language, settings)

    assert english.startswith("Reconnect your Pinterest account\n")
    assert translated != english
    left = _english_left(words_of(english), words_of(translated), language)
    assert not left, f"English left in the {language} mail: {sorted(left)}"


def test_the_language_switch_keeps_the_choice(signed_in, links):
    response = signed_in.post("/i18n/setlang/", {"language": "fr", "next": "/connections/"})

    assert response.status_code == 302
    assert response["Location"] == "/connections/"
    page = signed_in.get("/connections/").content.decode()
    assert '<html lang="fr">' in page
    assert "Vos connexions" in page


def test_dates_follow_the_language(signed_in, links):
    german = signed_in.get("/connections/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    month = timezone.now().strftime("%m")
    german_months = (
        "Januar Februar März April Mai Juni Juli August September Oktober November Dezember"
    )
    assert german_months.split()[int(month) - 1] in german


#: What the stand-ins show as codes, not words: the scope asked for and the user's name.
STAND_IN_CODES = {"user", "accounts", "read", "pinner"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_stand_ins_pages_have_no_english_left(client, settings, language):
    settings.CONNECTAPP_SANDBOX = True
    settings.ROOT_URLCONF = "tests.urls"
    settings.CONNECTAPP_PINTEREST_CLIENT_ID = "sandbox-pinterest-client"
    settings.CONNECTAPP_PINTEREST_CLIENT_SECRET = "sandbox-pinterest-secret"
    authorize = "/sandbox/pinterest/oauth/?" + urlencode(
        {
            "client_id": "sandbox-pinterest-client",
            "redirect_uri": "https://example.org/callback/",
            "response_type": "code",
            "scope": "user_accounts:read",
            "state": "s",
        }
    )
    unknown_request = "/sandbox/discogs/oauth/authorize?oauth_token=unknown"

    for path, status in ((authorize, 200), (unknown_request, 400)):
        english = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
        translated = client.get(path, HTTP_ACCEPT_LANGUAGE=language)

        assert (english.status_code, translated.status_code) == (status, status)
        page = translated.content.decode()
        assert f'<html lang="{language}">' in page
        left = _english_left(page_words(english.content.decode()), page_words(page), language)
        assert not left - STAND_IN_CODES, f"English left on {path} in {language}: {sorted(left)}"


def _session_pages(client, language: str) -> list[str]:
    """Return a connect session's pages in `language`: its confirmation, the providers offered
    once it is opened, and the refusal of a link already used."""
    new = connect_sessions.create_session(
        None,
        site_id="site-42",
        providers=["pinterest", "discogs"],
        return_url="https://site.example/connected",
    )
    url = reverse("connections:connect-session", args=[new.token])
    pages = [client.get(url, HTTP_ACCEPT_LANGUAGE=language), None, None]
    pages[1] = client.post(url, HTTP_ACCEPT_LANGUAGE=language)
    pages[2] = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert [page.status_code for page in pages] == [200, 200, 410]
    return [page.content.decode() for page in pages]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_connect_session_pages_have_no_english_left(client, links, settings, language):
    settings.CONNECTAPP_CONNECT_RETURN_ORIGINS = ["https://site.example"]
    english = _session_pages(client, "en")
    translated = _session_pages(client, language)

    assert "asks you to connect Pinterest or Discogs." in english[0]
    assert "Connect Discogs" in english[1]
    assert "already used" in english[2]
    for english_page, page in zip(english, translated, strict=True):
        assert f'<html lang="{language}">' in page
        left = _english_left(page_words(english_page), page_words(page), language)
        assert not left, f"English left on a connect session page in {language}: {sorted(left)}"
