"""The request id at the edge: taken from X-Request-ID or made, kept for the request's log lines
(service_logging), and returned in the response's X-Request-ID header, refusals included.

Also where a client that went away before its body arrived ends quietly: Starlette raises
ClientDisconnect from the body read, and nothing is left to answer.
"""

from __future__ import annotations

import logging
import random
import re

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_logging import REQUEST, RequestFields

logger = logging.getLogger("invitations.api")

HEADER = b"x-request-id"
# Printable, without spaces (a log line stays easy to split), at most 128 characters
# (docs/contract/OPERATIONS.md).
_SANE = re.compile(rb"[\x21-\x7e]{1,128}")


def request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID when it is sane, else a new one."""
    for name, value in headers:
        if name == HEADER and _SANE.fullmatch(value):
            return value.decode("ascii")
    # A correlation id, not a secret: the random module's generator (reseeded in a forked child)
    # costs a fifth of uuid4's system call.
    return f"{random.getrandbits(128):032x}"


class RequestId:
    """Pure ASGI (a task of its own per request would cost more than the rest of this does)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        value = request_id(scope["headers"])
        header = (HEADER, value.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        token = REQUEST.set(RequestFields(value))
        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            logger.debug("the client disconnected before its request arrived whole")
        finally:
            REQUEST.reset(token)
