"""The pages speak German, French and Spanish: every word the templates say is translated.

Each page is rendered in English and in the other language; a word of the English page that
is still on the translated one is English left over, unless it is a proper name or part of a
text the Python code supplies (translated in a second pass; see `python_phrases`).
"""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.template.loader import render_to_string
from django.utils import timezone, translation

from connectapp.connections.models import LinkedAccount
from connectapp.providers import registry
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
    "de": {"problem"},
    "fr": {"attention", "services", "site"},
    "es": {"no"},
}


def python_phrases() -> list[str]:
    """Return the texts that come from Python strings not marked for translation yet (link
    statuses, scope words); they are cut out of both pages before comparing. The second pass
    (Python strings) empties this."""
    labels = [label for _, label in LinkedAccount.Status.choices]
    scopes = [
        text for name in ("discogs", "pinterest") for text in registry.get(name).permissions()
    ]
    return sorted(labels + scopes, key=len, reverse=True)


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
    """Return the words a person reads on the page, less the Python-supplied phrases."""
    parser = _Text()
    parser.feed(html)
    text = " ".join(parser.parts)
    for phrase in python_phrases():
        text = text.replace(phrase, " ")
    return words_of(text)


@pytest.fixture
def links(user, settings):
    settings.DISCOGS_CONSUMER_KEY, settings.DISCOGS_CONSUMER_SECRET = "key", "secret"
    settings.PINTEREST_CLIENT_ID, settings.PINTEREST_CLIENT_SECRET = "id", "secret"
    settings.PINTEREST_SCOPES = ["user_accounts:read", "boards:read"]
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
    allowed = PROPER_NAMES | SHARED_WORDS[language]
    fixture_names = {"crate", "digger", "pins", "ok", "refused", "broken"}
    return (english & translated) - allowed - fixture_names


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_connections_page_has_no_english_left(signed_in, links, language):
    english = signed_in.get("/connections/", HTTP_ACCEPT_LANGUAGE="en")
    translated = signed_in.get("/connections/", HTTP_ACCEPT_LANGUAGE=language)

    assert translated.status_code == 200
    assert f'<html lang="{language}">' in translated.content.decode()
    left = _english_left(
        page_words(english.content.decode()), page_words(translated.content.decode()), language
    )
    assert not left, f"English left on the {language} page: {sorted(left)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_provider_not_configured_is_explained_in_the_language(signed_in, settings, language):
    settings.DISCOGS_CONSUMER_KEY = ""
    english = signed_in.get("/connections/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    translated = signed_in.get("/connections/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert "Not configured on this site." in english
    assert not _english_left(page_words(english), page_words(translated), language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_reconnect_email_text_has_no_english_left(user, language):
    account = LinkedAccountFactory(user=user, username="pins-refused")
    context = {
        "account": account,
        "provider": registry.get("pinterest"),
        "connections_url": "https://example.org/connections/",
    }
    template = "connectapp/connections/email/needs_reconnect.txt"
    with translation.override("en"):
        english = render_to_string(template, context)
    with translation.override(language):
        translated = render_to_string(template, context)

    assert translated != english
    assert not _english_left(words_of(english), words_of(translated), language)


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
