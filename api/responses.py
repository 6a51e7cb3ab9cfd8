"""The media types of GraphQL over HTTP, and the JSON answer to a request that is not GraphQL.

A client picks the media type with Accept. `application/json` (also for no Accept, `*/*`, or
nothing we know) answers every GraphQL request with 200, as GraphQL servers long have.
`application/graphql-response+json`, the type of the GraphQL-over-HTTP specification, answers a
request that fails before execution with a 4xx and no "data" entry (see `status_of`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import mimeparse
import orjson
from starlette.responses import Response

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
# On equal preference (`*/*`, or both at the same q) the last wins: application/json.
_OFFERED = [GRAPHQL_RESPONSE_JSON, JSON]


@lru_cache(maxsize=256)  # clients send a handful of distinct headers
def negotiate(accept: str | None) -> str:
    """The media type of the answer to a request with this Accept header."""
    if not accept:
        return JSON
    try:
        chosen = mimeparse.best_match(_OFFERED, accept)
    except mimeparse.MimeTypeParseException:
        return JSON
    return chosen or JSON


def accepted(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """`negotiate` on an ASGI scope's raw headers."""
    for name, value in headers:
        if name == b"accept":
            return negotiate(value.decode("latin-1"))
    return JSON


def content_type(media_type: str) -> str:
    return f"{media_type}; charset=utf-8"


def error_body(message: str, code: str = "BAD_REQUEST") -> dict[str, Any]:
    """A GraphQL response without data: one top-level error, as the API's other refusals."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


# Errors whose code has its own HTTP status when the whole request is refused before execution
# (application/graphql-response+json only).
_STATUS_OF_CODE = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "SERVICE_UNAVAILABLE": 503}


def status_of(errors: list[Any]) -> int:
    """The status of a graphql-response+json answer without data: 401, 403 or 503 when every
    error says so, else 400."""
    codes = {(error.get("extensions") or {}).get("code") for error in errors}
    if len(codes) == 1:
        return _STATUS_OF_CODE.get(str(next(iter(codes))), 400)
    return 400


def refusal(
    status_code: int,
    message: str,
    *,
    code: str = "BAD_REQUEST",
    media_type: str = JSON,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer to an HTTP request that is not a GraphQL request we take."""
    return Response(
        orjson.dumps(error_body(message, code)),
        status_code=status_code,
        headers=dict(headers or {}),
        media_type=content_type(media_type),
    )
