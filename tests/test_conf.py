"""A site configures connectapp with `CONNECTAPP_` settings, read when they are needed."""

from datetime import timedelta

from django.test import override_settings

from connectapp import conf
from connectapp.providers import registry


def test_a_prefixed_setting_is_read():
    with override_settings(CONNECTAPP_DISCOGS_CONSUMER_KEY="host-key"):
        assert conf.value("DISCOGS_CONSUMER_KEY") == "host-key"


def test_an_unprefixed_name_counts_for_nothing(settings):
    del settings.CONNECTAPP_DISCOGS_CONSUMER_KEY
    settings.DISCOGS_CONSUMER_KEY = "not-connectapps"

    assert conf.value("DISCOGS_CONSUMER_KEY") == ""


def test_a_setting_left_unset_has_its_default(settings):
    del settings.CONNECTAPP_REFRESH_WINDOW_SECONDS

    assert conf.value("REFRESH_WINDOW_SECONDS") == timedelta(days=3)


def test_seconds_become_the_timedelta_call_sites_use():
    with override_settings(CONNECTAPP_REFRESH_WINDOW_SECONDS=90):
        assert conf.value("REFRESH_WINDOW_SECONDS") == timedelta(seconds=90)


def test_an_override_reaches_the_call_sites_at_once(settings):
    settings.CONNECTAPP_PINTEREST_CLIENT_ID = "first"
    assert registry.get("pinterest").client_id == "first"

    with override_settings(CONNECTAPP_PINTEREST_CLIENT_ID="second"):
        assert registry.get("pinterest").client_id == "second"

    assert registry.get("pinterest").client_id == "first"


def test_defaults_follow_the_sandbox_switch(settings):
    del settings.CONNECTAPP_DISCOGS_API_URL
    del settings.CONNECTAPP_PINTEREST_CLIENT_ID
    settings.CONNECTAPP_SANDBOX = True
    settings.CONNECTAPP_SANDBOX_URL = "http://127.0.0.1:9/sandbox/"
    assert conf.value("DISCOGS_API_URL") == "http://127.0.0.1:9/sandbox/discogs"
    assert conf.value("PINTEREST_CLIENT_ID") == "sandbox-pinterest-client"
    settings.CONNECTAPP_SANDBOX = False
    assert conf.value("DISCOGS_API_URL") == "https://api.discogs.com"
