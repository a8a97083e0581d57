"""The backend API under `/api/v1/`: JSON for other services, authorized by API keys.

Its OpenAPI 3.1 document (`/api/v1/openapi.json`) and browsable docs (`/api/v1/docs`) are
generated from these routes and schemas, and need no key.
"""

import copy
import functools
from collections.abc import Callable
from typing import Any

from django.utils import translation
from ninja import NinjaAPI

from . import connect_sessions, connections, problems
from .auth import ApiKeyAuth

#: A proxied call answers whatever the provider answered (any status, any body), or a problem
#: of ours (400 path out of the base, 409 link to reconnect, 429, 502-504) before it is sent.
PROXY_RESPONSES = {
    "default": {
        "description": "The provider's answer as it came, or a problem details error of ours.",
        "content": {"*/*": {"schema": {}}},
    }
}


class ConnectAppAPI(NinjaAPI):
    """Ninja's API, with error answers documented as `application/problem+json`."""

    def get_openapi_schema(self, **kwargs: Any) -> dict:
        """Return the OpenAPI document, error answers typed as problem details, and one
        operation id per method (the proxy is one view for several methods)."""
        schema = super().get_openapi_schema(**kwargs)
        for path, operations in schema.get("paths", {}).items():
            shared = len({operation.get("operationId") for operation in operations.values()}) == 1
            for method in operations:
                operation = operations[method] = copy.deepcopy(operations[method])
                if shared and len(operations) > 1:
                    operation["operationId"] = f"{operation['operationId']}_{method}"
                if "/proxy/" in path:
                    operation["responses"] = PROXY_RESPONSES
                    continue
                for status, answer in operation.get("responses", {}).items():
                    content = answer.get("content", {})
                    if str(status)[0] in "45" and "application/json" in content:
                        content[problems.MEDIA_TYPE] = content.pop("application/json")
        return schema


api = ConnectAppAPI(
    title="connectapp",
    version="1",
    description="Fresh credentials, proxied calls and connect sessions for other services.",
    urls_namespace="connectapp-api",
    auth=ApiKeyAuth(),
)
problems.install(api)


def in_english(view: Callable) -> Callable:
    """Return `view` answering in English whatever language the request asks for: the API's
    messages are for programs and their developers, not pages a person reads."""

    @functools.wraps(view)
    def english(*args: Any, **kwargs: Any) -> Any:
        with translation.override("en"):
            return view(*args, **kwargs)

    return english


api.add_decorator(in_english, mode="view")
api.add_router("", connections.router)
api.add_router("", connect_sessions.router)
