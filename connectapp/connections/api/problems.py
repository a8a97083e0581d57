"""Errors as RFC 9457 problem details (`application/problem+json`), for every error the API
answers, and the exception handlers that make them."""

import json
import logging
import math
from http import HTTPStatus

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, Throttled, ValidationError

logger = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
#: Problem types are relative references, resolved against the API's base (RFC 9457 §3.1.1).
TYPE_BASE = "/api/v1/problems/"

#: The details of the errors any route may answer, told the same way wherever they happen.
NO_KEY = "A valid API key is required: send it as 'Authorization: Bearer <key>'."
RATE_LIMITED = "This key made too many requests; come back after Retry-After seconds."
INVALID_REQUEST = "The request does not match the API's schema."
NOT_FOUND = "No such resource, or not one this key may see."
UNEXPECTED = "Something went wrong on our side."


class Problem(HttpError):
    """An error a route answers: its status, a short type slug and a detail for the caller."""

    def __init__(
        self, status: int, detail: str, *, kind: str = "", retry_after: float | None = None
    ):
        super().__init__(status, detail)
        self.kind = kind
        self.retry_after = retry_after


def problem_response(
    status: int,
    detail: str,
    *,
    kind: str = "",
    retry_after: float | None = None,
    **extra: object,
) -> HttpResponse:
    """Return a problem details answer; `kind` names its type (the status phrase otherwise)."""
    phrase = HTTPStatus(status).phrase
    body = {
        "type": TYPE_BASE + (kind or phrase.lower().replace(" ", "-").replace("'", "")),
        "title": phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    response = HttpResponse(json.dumps(body), status=status, content_type=MEDIA_TYPE)
    if retry_after is not None:
        response["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


def install(api: NinjaAPI) -> None:
    """Answer every error of `api` as problem details."""

    @api.exception_handler(Problem)
    def problem(request: HttpRequest, exc: Problem) -> HttpResponse:
        return problem_response(
            exc.status_code, exc.message, kind=exc.kind, retry_after=exc.retry_after
        )

    @api.exception_handler(Throttled)
    def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        return problem_response(429, RATE_LIMITED, kind="rate-limited", retry_after=exc.wait or 1)

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        detail = NO_KEY if exc.status_code == 401 else str(exc)
        return problem_response(exc.status_code, detail)

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = json.loads(json.dumps(exc.errors, default=str))
        return problem_response(422, INVALID_REQUEST, kind="invalid-request", errors=errors)

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return problem_response(404, NOT_FOUND)

    @api.exception_handler(Exception)
    def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("API error on %s", request.path)
        return problem_response(500, UNEXPECTED)
