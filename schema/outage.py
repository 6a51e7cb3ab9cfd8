"""The answer to an operation that reached an unreachable database: no data, one top-level error
SERVICE_UNAVAILABLE, and (over HTTP) status 503 with Retry-After, instead of INTERNAL errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import GraphQLError

from domain.outage import is_database_unavailable

SERVICE_UNAVAILABLE_CODE = "SERVICE_UNAVAILABLE"
SERVICE_UNAVAILABLE_MESSAGE = (
    "The service is briefly unavailable: its database cannot be reached. Try again shortly."
)
# The outage is noticed to be over within PROBE_INTERVAL_SECONDS of its end (domain.outage).
RETRY_AFTER_SECONDS = 1


class ServiceUnavailable(GraphQLError):
    """The database cannot be reached; nothing was done, or nothing is known to have been."""

    def __init__(self) -> None:
        super().__init__(SERVICE_UNAVAILABLE_MESSAGE, extensions={"code": SERVICE_UNAVAILABLE_CODE})


def database_error(errors: Sequence[GraphQLError]) -> BaseException | None:
    """The first of these errors that says the database is unreachable, if any."""
    for error in errors:
        original = error.original_error
        # (an expected error, a GraphQLError, is the client's even when raised from an OSError)
        if (
            original is not None
            and not isinstance(original, GraphQLError)
            and is_database_unavailable(original)
        ):
            return original
    return None


def refuse(result: Any, context: Any, error: BaseException) -> None:
    """Turn `result` into the outage answer; note the outage in the request's context."""
    result.data = None
    result.errors = [ServiceUnavailable()]
    response = getattr(context, "response", None)
    if response is not None:
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    outage = getattr(context, "outage", None)
    if outage is not None:
        outage.begin(error)
        outage.refuse()
