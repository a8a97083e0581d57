from .webhook_receiver import receiver_factory  # noqa: F401 - the webhook receiver fixture
