"""Whatever arrives at the callbacks and the connect and disconnect endpoints, the answer is a
page saying no (4xx) or a redirect, never a server error, and no link, event or user changes.

Hypothesis generates the requests: raw query strings of arbitrary bytes, repeated and missing
parameters, unicode, control characters and values of up to 200,000 characters, sometimes
carrying the key of a flow this browser really started (so the request reaches the provider
stand-in and is refused there). The runs are derandomized: CI sees the same examples each time.
"""

from urllib.parse import quote, urlencode, urlsplit

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from tests.support.flows import discogs_link, query_of, tables
from tests.support.pinterest_support import pinterest_link

pytestmark = pytest.mark.django_db

#: How many requests each test generates; the README's figures add these up.
CALLBACK_EXAMPLES = 150
CONNECT_EXAMPLES = 100
DISCONNECT_EXAMPLES = 100

HOSTILE = examples(
    max_examples=CALLBACK_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

#: Any character a browser can send: UTF-8 cannot carry lone surrogates.
CHARACTERS = st.characters(exclude_categories=["Cs"])
NAMES = st.one_of(
    st.sampled_from(
        [
            "code",
            "state",
            "error",
            "error_description",
            "oauth_token",
            "oauth_verifier",
            "denied",
            "next",
            "scope",
            "csrfmiddlewaretoken",
        ]
    ),
    st.text(CHARACTERS, max_size=12),
)
SPECIAL = st.sampled_from(
    [
        "",
        "%",
        "%ZZ",
        "%00",
        "\x00",
        "\r\nSet-Cookie: x=y",
        "access_denied",
        "server_error",
        "../../../etc/passwd",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "\u202egnp.exe",
        "\ud7ff\ufffd\U0010ffff",
        "https://evil.example/",
        "//evil.example",
    ]
)
HUGE = st.builds(lambda char, size: char * size, CHARACTERS, st.integers(1_000, 200_000))
VALUES = st.one_of(st.text(CHARACTERS, max_size=40), SPECIAL, HUGE)
PAIRS = st.lists(st.tuples(NAMES, VALUES), max_size=8)
#: What a WSGI server hands over: any bytes, as latin-1 text.
RAW_QUERY = st.binary(max_size=300).map(lambda raw: raw.decode("latin-1"))


@st.composite
def callback_queries(draw, flow_param: str) -> tuple[str, bool]:
    """A query string, and whether the real flow key of a started flow goes in it."""
    if draw(st.booleans()):
        return draw(RAW_QUERY), False
    pairs = draw(PAIRS)
    with_flow = draw(st.booleans())
    if with_flow:
        pairs.insert(draw(st.integers(0, len(pairs))), (flow_param, "{flow}"))
    return urlencode(pairs), with_flow


def assert_refused_or_redirected_home(response) -> None:
    assert response.status_code in (302, 400, 404, 405, 409), response.status_code
    if response.status_code == 302:
        assert response["Location"] == "/connections/"


@pytest.fixture
def unlimited(settings):
    settings.CONNECTAPP_CONNECT_RATE_LIMIT = "0/60"


@pytest.fixture
def others_links(other_user, discogs, pinterest):
    """Bob's links: what a hostile Alice would like to reach."""
    return [discogs_link(other_user), pinterest_link(other_user)]


def start_flow(client: Client, provider: str, flow_param: str) -> str:
    response = client.post(f"/connections/{provider}/connect/")
    assert response.status_code == 302, response.content.decode()
    return query_of(response["Location"])[flow_param]


def hostile_callback(client: Client, provider: str, flow_param: str, query: str, with_flow: bool):
    if with_flow:
        query = query.replace(quote("{flow}"), start_flow(client, provider, flow_param))
    return client.get(f"/connections/{provider}/callback/", QUERY_STRING=query)


def assert_hostile_callback_refused(client: Client, provider: str, flow_param: str, request):
    """The callback `request` is refused (or sent home) and no row changes."""
    before = tables()

    response = hostile_callback(client, provider, flow_param, *request)

    assert_refused_or_redirected_home(response)
    assert tables() == before


@HOSTILE
@given(request=callback_queries("oauth_token"))
def test_hostile_discogs_callbacks_are_refused_and_change_nothing(
    request, signed_in, others_links, unlimited
):
    assert_hostile_callback_refused(signed_in, "discogs", "oauth_token", request)


@HOSTILE
@given(request=callback_queries("state"))
def test_hostile_pinterest_callbacks_are_refused_and_change_nothing(
    request, signed_in, others_links, unlimited
):
    assert_hostile_callback_refused(signed_in, "pinterest", "state", request)


def hostile_form(client: Client, method: str, path: str, form, query: str):
    """Send `form` url-encoded with any `method`, under a raw query string; answer the response."""
    return client.generic(
        method,
        path,
        urlencode(form),
        content_type="application/x-www-form-urlencoded",
        QUERY_STRING=query,
    )


PROVIDER_SLUGS = st.one_of(
    st.sampled_from(["discogs", "pinterest"]), st.text(CHARACTERS, min_size=1, max_size=30)
)


@examples(HOSTILE, max_examples=CONNECT_EXAMPLES)
@given(
    provider=PROVIDER_SLUGS,
    method=st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE"]),
    form=PAIRS,
    query=RAW_QUERY,
    anonymous=st.booleans(),
)
def test_hostile_connect_requests_start_a_flow_or_are_refused(
    provider, method, form, query, anonymous, client, user, others_links, unlimited, sandbox
):
    if not anonymous:
        client.force_login(user)
    before = tables()

    response = hostile_form(
        client, method, f"/connections/{quote(provider, safe='')}/connect/", form, query
    )

    assert response.status_code in (302, 404, 405), response.status_code
    if response.status_code == 302:
        location = response["Location"]
        if anonymous:
            assert location.startswith("/accounts/login/?next=")
        else:
            assert provider in ("discogs", "pinterest") and method == "POST"
            assert location.startswith(f"{sandbox}/{provider}/oauth/")
            assert urlsplit(location).netloc == urlsplit(sandbox).netloc
    client.logout()
    assert tables() == before


ACCOUNT_IDS = st.one_of(
    st.integers(min_value=0, max_value=2**70).map(str),
    st.integers(min_value=-(2**63), max_value=-1).map(str),
    st.text(CHARACTERS, min_size=1, max_size=20).map(lambda text: quote(text, safe="")),
)


@examples(HOSTILE, max_examples=DISCONNECT_EXAMPLES)
@given(
    target=st.one_of(st.sampled_from(["bob-0", "bob-1"]), ACCOUNT_IDS),
    method=st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE"]),
    form=PAIRS,
    query=RAW_QUERY,
)
def test_hostile_disconnect_requests_reach_nobody_elses_link(
    target, method, form, query, signed_in, others_links
):
    if target.startswith("bob-"):
        target = str(others_links[int(target[-1])].pk)
    before = tables()

    response = hostile_form(signed_in, method, f"/connections/{target}/disconnect/", form, query)

    assert response.status_code in (404, 405), response.status_code
    assert tables() == before
