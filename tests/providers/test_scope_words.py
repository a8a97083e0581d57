"""What connecting allows, in words, as the connections page shows it."""

from connectapp.providers import registry


def test_known_pinterest_scopes_read_as_words_and_unknown_ones_as_they_are(settings):
    settings.CONNECTAPP_PINTEREST_SCOPES = [
        "user_accounts:read",
        "pins:read",
        "ads:read",
        "shopping:list",
    ]

    assert registry.get("pinterest").permissions() == [
        "See your Pinterest profile",
        "See your public Pins",
        "See your ads and their results",
        "shopping:list",
    ]


def test_openid_connect_scopes_are_known_to_every_provider():
    pinterest = registry.get("pinterest")

    assert pinterest.permissions(["openid", "email", "custom:thing"]) == [
        "Confirm who you are",
        "See your email address",
        "custom:thing",
    ]


def test_a_provider_without_scopes_is_described_by_its_description():
    discogs = registry.get("discogs")

    assert discogs.permissions() == [discogs.description]
    assert discogs.permissions() != []
