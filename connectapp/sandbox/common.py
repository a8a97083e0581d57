"""What the provider stand-ins share: they answer only in sandbox mode."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse


def sandbox_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A stand-in view is not found unless `CONNECTAPP_SANDBOX` is on (checked per request)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not settings.CONNECTAPP_SANDBOX:
            raise Http404("The provider stand-ins are off")
        return view(request, *args, **kwargs)

    return wrapper
