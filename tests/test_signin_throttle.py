"""Guessing passwords stops working: failed sign-ins are throttled per account and per address."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORD = "correct horse battery staple"
LIMIT = 5


@pytest.fixture
def throttled(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD)


def sign_in(client: Client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_right_password_after_many_wrong_ones_is_refused_with_a_clear_page(throttled, alice):
    client = Client()
    for _ in range(25):
        sign_in(client, "alice", "wrong")

    response = sign_in(client, "alice", PASSWORD)

    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    assert not signed_in(client)


def test_an_account_is_throttled_whatever_address_the_guesses_come_from(throttled, alice):
    for attempt in range(LIMIT):
        sign_in(Client(), "alice", "wrong", address=f"198.51.100.{attempt}")

    client = Client()
    response = sign_in(client, "alice", PASSWORD, address="192.0.2.200")

    assert response.status_code == 429
    assert not signed_in(client)


def test_an_address_is_throttled_whatever_accounts_it_guesses(throttled, alice):
    for attempt in range(LIMIT):
        sign_in(Client(), f"someone{attempt}", "wrong", address="198.51.100.9")

    client = Client()
    response = sign_in(client, "alice", PASSWORD, address="198.51.100.9")

    assert response.status_code == 429
    assert not signed_in(client)


def test_a_few_mistakes_then_the_right_password_signs_in(throttled, alice):
    client = Client()
    for _ in range(LIMIT - 1):
        assert sign_in(client, "alice", "wrong").status_code == 200

    response = sign_in(client, "alice", PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_someone_else_elsewhere_is_not_throttled(throttled, alice):
    get_user_model().objects.create_user("bob", password=PASSWORD)
    for _ in range(LIMIT):
        sign_in(Client(), "alice", "wrong", address="198.51.100.9")

    client = Client()
    response = sign_in(client, "bob", PASSWORD, address="192.0.2.1")

    assert response.status_code == 302
    assert signed_in(client)
