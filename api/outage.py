"""The API during a database outage: every GraphQL request over HTTP answers 503 at once.

The outage starts with the first request (or readiness check) whose query found the database
unreachable: in the view's context look-ups (token, store view), which run before GraphQL
execution and its error masking, or in a resolver (schema.outage). From then on requests are
refused without touching the database, and a probe notices its return within
PROBE_INTERVAL_SECONDS. Each outage is logged twice: when it starts, and when it ends with the
number of requests refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.outage import Outage, is_database_unavailable
from schema.outage import RETRY_AFTER_SECONDS, SERVICE_UNAVAILABLE_CODE, SERVICE_UNAVAILABLE_MESSAGE

logger = logging.getLogger("invitations.api")

GRAPHQL_RESPONSE = "application/graphql-response+json"
_BODY = orjson.dumps(
    {
        "errors": [
            {
                "message": SERVICE_UNAVAILABLE_MESSAGE,
                "extensions": {"code": SERVICE_UNAVAILABLE_CODE},
            }
        ]
    }
)


class ServiceOutage(Outage):
    """The outage record of one app: its start also starts the probe that ends it."""

    def __init__(self) -> None:
        super().__init__(logger, "answering 503", refuses=True)
        self._watch: asyncio.Task[None] | None = None

    def begin(self, error: BaseException) -> bool:
        started = super().begin(error)
        if started:
            # Created inside a request, the task inherits its Tortoise context.
            self._watch = asyncio.create_task(self.wait_for_database(), name="database-probe")
        return started

    async def aclose(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None


def media_type(accept: str) -> str:
    """The GraphQL-over-HTTP media type the client asked for; application/json otherwise."""
    return GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in accept else "application/json"


def _accept(scope: Scope) -> str:
    return str(dict(scope.get("headers") or ()).get(b"accept", b"").decode("latin-1"))


def _in_media_type(start: Message, scope: Scope) -> Message:
    """The view's 503 answer, in the media type the client asked for."""
    headers = [(k, v) for k, v in start.get("headers", ()) if k.lower() != b"content-type"]
    headers.append((b"content-type", media_type(_accept(scope)).encode()))
    return {**start, "headers": headers}


async def _unavailable(scope: Scope, send: Send) -> None:
    accept = _accept(scope)
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", media_type(accept).encode()),
                (b"content-length", str(len(_BODY)).encode()),
                (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _BODY})


class OutageGuard:
    """Wraps the GraphQL view: 503 while the database is out, and when a request finds it out."""

    def __init__(self, app: ASGIApp, outage: ServiceOutage) -> None:
        self.app = app
        self.outage = outage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.outage.down:
            self.outage.refuse()
            await _unavailable(scope, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] == 503:  # a resolver found the database out (schema.outage)
                    message = _in_media_type(message, scope)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as error:
            if started or not is_database_unavailable(error):
                raise
            self.outage.begin(error)
            self.outage.refuse()
            await _unavailable(scope, send)
