"""Small wording helpers for the connections pages."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.text import get_text_list
from django.utils.timesince import timesince
from django.utils.translation import gettext

register = template.Library()


@register.filter
def ago(moment: datetime | None) -> str:
    """ "just now" for the last minute, else "5 minutes ago"; empty without a moment."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return gettext("just now")
    return gettext("%(time)s ago") % {"time": timesince(moment)}


@register.filter
def or_list(names: list[str]) -> str:
    """ "Discogs", "Discogs or Pinterest", "A, B or C", in the active language (Django's own
    catalogue translates the "or")."""
    return get_text_list([str(name) for name in names])
