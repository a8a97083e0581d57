"""The log filter scrubs what libraries and the development server write."""

import logging
import os
import subprocess
import sys

import pytest

from connectapp.redaction import RedactSecretsFilter, redact


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('"GET /connections/pinterest/callback/?code=abc123&state=xyz789 HTTP/1.1" 302', "abc123"),
        ('"GET /connections/pinterest/callback/?code=abc123&state=xyz789 HTTP/1.1" 302', "xyz789"),
        ("GET /cb?oauth_token=rt-1&oauth_verifier=ver-2", "ver-2"),
        ("GET /cb?oauth_token=rt-1&oauth_verifier=ver-2", "rt-1"),
        ("body: access_token=at-9&refresh_token=rf-8", "rf-8"),
        ('{"access_token": "json-at", "token_type": "bearer"}', "json-at"),
        ("Authorization: Bearer bearer-tok-5", "bearer-tok-5"),
        ('Authorization: OAuth oauth_consumer_key="ck", oauth_signature="sig%26"', "sig%26"),
        ("client_secret=cs-7", "cs-7"),
        ("base string: POST&http%3A%2F%2Fx&oauth_token%3Dtok-pct%26oauth_verifier%3Dv", "tok-pct"),
    ],
)
def test_secrets_are_redacted(line, secret):
    assert secret not in redact(line)
    assert "[redacted]" in redact(line)


def test_ordinary_lines_are_left_alone():
    line = "link 12: refreshed pinterest token in 85 ms"
    assert redact(line) == line


def test_the_filter_rewrites_records_with_arguments():
    record = logging.LogRecord(
        "django.server", logging.INFO, __file__, 1, '"%s" %s', ("GET /cb?code=leak", 302), None
    )
    assert RedactSecretsFilter().filter(record) is True
    assert "leak" not in record.getMessage()
    assert "302" in record.getMessage()


def test_a_celery_worker_keeps_the_filter_on_its_log_lines():
    """A worker sets up its logging after Django's; the filter must survive that."""
    worker = subprocess.run(
        [
            sys.executable,
            "-c",
            "import logging, django; django.setup(); from connectapp.celery import app; "
            "app.log.setup(loglevel='INFO'); "
            "logging.getLogger('urllib3').warning('GET /cb?code=worker-code-1&state=s')",
        ],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "standalone.settings", "DEBUG": "true"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "GET /cb?code=[redacted]" in worker.stderr
    assert "worker-code-1" not in worker.stderr
