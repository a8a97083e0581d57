from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from connectapp.connections.models import ConnectionEvent, LinkedAccount


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class LinkedAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LinkedAccount

    user = factory.SubFactory(UserFactory)
    provider = "pinterest"
    external_id = factory.Sequence(lambda n: f"ext-{n}")
    username = factory.Sequence(lambda n: f"remote{n}")
    scopes = factory.LazyFunction(lambda: ["user_accounts:read"])
    status = LinkedAccount.Status.ACTIVE
    access_token = factory.Sequence(lambda n: f"access-token-value-{n}")
    refresh_token = factory.Sequence(lambda n: f"refresh-token-value-{n}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    refresh_expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=365))


class DiscogsAccountFactory(LinkedAccountFactory):
    provider = "discogs"
    scopes = factory.LazyFunction(list)
    token_secret = factory.Sequence(lambda n: f"token-secret-value-{n}")
    refresh_token = ""
    expires_at = None
    refresh_expires_at = None


class ConnectionEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConnectionEvent

    account = factory.SubFactory(LinkedAccountFactory)
    kind = ConnectionEvent.Kind.CONNECTED
    actor = "test"
