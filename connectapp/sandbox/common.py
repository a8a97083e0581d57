"""What the provider stand-ins share: they answer only in sandbox mode."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse


class InFlight:
    """Counts the API requests being answered, so a reset waits for a slow one (an injected
    latency the client gave up on) instead of letting it land in the fresh state."""

    def __init__(self) -> None:
        self._idle = threading.Condition()
        self._count = 0

    @contextmanager
    def request(self) -> Iterator[None]:
        with self._idle:
            self._count += 1
        try:
            yield
        finally:
            with self._idle:
                self._count -= 1
                self._idle.notify_all()

    def wait(self, timeout: float = 30.0) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._count == 0, timeout)


def truncated(body: str, content_type: str, status: int = 200) -> HttpResponse:
    """An answer that stops halfway: its Content-Length promises the whole body."""
    response = HttpResponse(body[: len(body) // 2], content_type=content_type, status=status)
    response["Content-Length"] = str(len(body.encode()))
    return response


def sandbox_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A stand-in view is not found unless `CONNECTAPP_SANDBOX` is on (checked per request)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not settings.CONNECTAPP_SANDBOX:
            raise Http404("The provider stand-ins are off")
        return view(request, *args, **kwargs)

    return wrapper
