"""The API answers in English whatever language a request asks for: its problem details are for
programs and their developers, while pages follow the person's language."""

from django.utils import translation

from connectapp.connections.api import in_english
from connectapp.connections.models import LinkedAccount


def test_an_api_view_runs_in_english_under_any_language():
    @in_english
    def view(request):
        return translation.get_language(), str(LinkedAccount.Status.NEEDS_RECONNECT.label)

    with translation.override("de"):
        assert view(None) == ("en", "Needs reconnect")
        assert translation.get_language() == "de"
        assert str(LinkedAccount.Status.NEEDS_RECONNECT.label) != "Needs reconnect"
