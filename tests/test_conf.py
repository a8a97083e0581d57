"""A host site configures connectapp with `CONNECTAPP_` settings; the standalone project's
un-prefixed names still count where no prefixed one is set."""

from datetime import timedelta

from django.conf import settings as django_settings
from django.test import override_settings

from connectapp import conf


def test_prefixed_name_wins_over_the_standalone_name():
    with override_settings(CONNECTAPP_DISCOGS_CONSUMER_KEY="host-key", DISCOGS_CONSUMER_KEY="old"):
        assert conf.value("DISCOGS_CONSUMER_KEY") == "host-key"


def test_standalone_name_is_read_when_no_prefixed_one_is_set():
    with override_settings(DISCOGS_CONSUMER_KEY="standalone-key"):
        assert conf.value("DISCOGS_CONSUMER_KEY") == "standalone-key"


def test_seconds_become_the_timedelta_call_sites_use():
    with override_settings(CONNECTAPP_REFRESH_WINDOW_SECONDS=90):
        assert conf.value("REFRESH_WINDOW_SECONDS") == timedelta(seconds=90)


def test_defaults_follow_the_sandbox_switch(settings):
    for name in ("DISCOGS_API_URL", "PINTEREST_CLIENT_ID"):
        delattr(settings, name)
    settings.CONNECTAPP_SANDBOX = True
    settings.CONNECTAPP_SANDBOX_URL = "http://127.0.0.1:9/sandbox/"
    assert conf.value("DISCOGS_API_URL") == "http://127.0.0.1:9/sandbox/discogs"
    assert conf.value("PINTEREST_CLIENT_ID") == "sandbox-pinterest-client"
    settings.CONNECTAPP_SANDBOX = False
    assert conf.value("DISCOGS_API_URL") == "https://api.discogs.com"


def test_publish_fills_only_the_names_a_site_left_unset(settings):
    del settings.CONNECTAPP_FLOW_TTL
    del settings.PINTEREST_SCOPES
    settings.CONNECTAPP_FLOW_TTL_SECONDS = 30
    settings.CONNECTAPP_PINTEREST_SCOPES = ["boards:read"]
    kept = django_settings.DISCOGS_API_URL

    assert conf.publish() == ["CONNECTAPP_FLOW_TTL", "PINTEREST_SCOPES"]

    flow_ttl, scopes = django_settings.CONNECTAPP_FLOW_TTL, django_settings.PINTEREST_SCOPES
    assert flow_ttl == timedelta(seconds=30)
    assert scopes == ["boards:read"]
    assert django_settings.DISCOGS_API_URL is kept
