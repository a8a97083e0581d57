"""What the provider stand-ins share: they answer only in sandbox mode."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any, ClassVar

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from connectapp import conf


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


FAULT_KINDS = ("error", "rate_limit", "latency", "garbage", "truncated")


@dataclass
class Fault:
    """The next `times` calls to `endpoint` (any API endpoint when empty) misbehave."""

    kind: str
    endpoint: str = ""
    times: int = 1
    status: int = 500
    retry_after: int | None = None
    delay: float = 0.0


class StandIn:
    """A stand-in's memory: its state (a dataclass with `faults` and `calls` lists), injected
    faults and the call log. Every method takes the lock, so the threaded server is safe.

    A subclass says how its provider looks when it misbehaves (`garbage_page`, `cut_short`,
    `too_many_requests`, `server_error`) and what its call log records (`describe`); `api`
    wraps every API view of it in the same switch.
    """

    #: The API endpoints faults can be aimed at.
    api_endpoints: ClassVar[tuple[str, ...]] = ()
    #: A dataclass with `faults` and `calls` lists and an `apps` dict (app id -> secret).
    state_class: ClassVar[type]
    #: The settings naming the site's own app id and secret at this provider.
    app_settings: ClassVar[tuple[str, str]]
    #: The HTML a `garbage` fault answers with a 200.
    garbage_page: ClassVar[str]
    #: The body and content type a `truncated` fault cuts off halfway.
    cut_short: ClassVar[tuple[str, str]]

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._state = self.state_class()
        self.in_flight = InFlight()

    def register_app(self, app_id: str, secret: str) -> None:
        """Give an app (a consumer key, a client id) a secret of the stand-in's own; without
        one, the site's own settings (`app_settings`) count."""
        with self._lock:
            self._state.apps[app_id] = secret

    def app_secret(self, app_id: str) -> str | None:
        """Return the secret the stand-in knows for an app, or None for an unknown app."""
        with self._lock:
            if app_id in self._state.apps:
                return self._state.apps[app_id]
        id_setting, secret_setting = self.app_settings
        if app_id and app_id == conf.value(id_setting):
            return conf.value(secret_setting)
        return None

    def reset(self) -> None:
        """Forget everything: tokens, users, settings, faults and the call log."""
        self.in_flight.wait()
        with self._lock:
            self._state = self.state_class()

    def inject_fault(self, kind: str, endpoint: str = "", **options: Any) -> Fault:
        """Make the next call(s) misbehave: `error` (HTTP `status`), `rate_limit` (429 with
        `retry_after`), `latency` (sleep `delay` seconds, then answer), `garbage` (HTML) or
        `truncated` (a body cut off before its Content-Length)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        if endpoint and endpoint not in self.api_endpoints:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        fault = Fault(kind=kind, endpoint=endpoint, **options)
        with self._lock:
            self._state.faults.append(fault)
        return fault

    def take_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            for fault in self._state.faults:
                if fault.endpoint in ("", endpoint):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._state.faults.remove(fault)
                    return fault
            return None

    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._state.faults)

    def record(self, call: Any) -> None:
        with self._lock:
            self._state.calls.append(call)

    def calls(self, endpoint: str | None = None) -> list[Any]:
        """The API requests seen since the last reset, of one endpoint or of all."""
        with self._lock:
            return [call for call in self._state.calls if endpoint in (None, call.endpoint)]

    def describe(self, request: HttpRequest, endpoint: str) -> Any:
        """Return the call-log entry of one API request (never its secrets)."""
        raise NotImplementedError

    def refuse(self, request: HttpRequest) -> HttpResponse | None:
        """Return the answer to a request the provider refuses before anything else, or None."""
        return None

    def too_many_requests(self) -> HttpResponse:
        """Return the provider's 429 answer."""
        raise NotImplementedError

    def server_error(self, status: int) -> HttpResponse:
        """Return the provider's answer to a failure of its own, with that status."""
        raise NotImplementedError

    def fault_answer(self, fault: Fault | None) -> HttpResponse | None:
        """Return what an injected fault answers instead of the view, or None when the view
        answers (after the delay of a `latency` fault)."""
        if fault is None:
            return None
        if fault.kind == "latency":
            time.sleep(fault.delay)
            return None
        if fault.kind == "garbage":
            return HttpResponse(self.garbage_page)
        if fault.kind == "truncated":
            return truncated(*self.cut_short)
        if fault.kind == "rate_limit":
            response = self.too_many_requests()
        else:
            response = self.server_error(fault.status)
        if fault.retry_after is not None:
            response["Retry-After"] = str(fault.retry_after)
        return response

    def api(
        self, endpoint: str
    ) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
        """Return the decorator of one API view: sandbox mode only, no CSRF (other sites call
        it), the provider's refusals and injected faults first, every answer in the call log."""

        def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            @wraps(view)
            def wrapper(request: HttpRequest) -> HttpResponse:
                call = self.describe(request, endpoint)
                with self.in_flight.request():
                    response = (
                        self.refuse(request)
                        or self.fault_answer(self.take_fault(endpoint))
                        or view(request)
                    )
                    call.status = response.status_code
                    self.record(call)
                return response

            return sandbox_only(csrf_exempt(wrapper))

        return decorate


def truncated(body: str, content_type: str, status: int = 200) -> HttpResponse:
    """An answer that stops halfway: its Content-Length promises the whole body."""
    response = HttpResponse(body[: len(body) // 2], content_type=content_type, status=status)
    response["Content-Length"] = str(len(body.encode()))
    return response


def sandbox_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A stand-in view is not found unless `CONNECTAPP_SANDBOX` is on (checked per request)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not conf.value("SANDBOX"):
            raise Http404("The provider stand-ins are off")
        return view(request, *args, **kwargs)

    return wrapper
