"""What an outage's `Retry-After` header means, whatever a provider writes in it."""

import pytest
import requests

from connectapp.exceptions import ProviderUnavailable
from connectapp.providers import http


def answer(status: int, retry_after: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers["Retry-After"] = retry_after
    return response


@pytest.mark.parametrize(
    "retry_after",
    [
        "Wed, 21 Oct 2015 07:28:00",  # a date without its zone
        "Wed, 21 Oct 2015 07:28:00 -0000",
        "\u00b2",  # a latin-1 byte that `str.isdigit` takes for a digit
        "9" * 400,
        "99999999999999",
    ],
)
def test_an_odd_retry_after_still_makes_an_outage(retry_after):
    with pytest.raises(ProviderUnavailable) as raised:
        http.raise_for_outage(answer(429, retry_after), "Example")

    assert raised.value.retry_after is None or 0 <= raised.value.retry_after <= http.MAX_RETRY_AFTER


def test_a_retry_after_date_without_a_zone_is_read_as_gmt():
    assert http.retry_after_seconds(answer(503, "Wed, 21 Oct 2015 07:28:00")) == 0.0


def test_a_retry_after_in_seconds_is_honoured():
    assert http.retry_after_seconds(answer(429, "120")) == 120.0
