"""An ASGI middleware that refuses request bodies over a size limit with 413."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.responses import accepted, refusal


class BodyTooLarge(Exception):
    """Raised inside the app when the body passes the limit."""


async def _too_large(scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
    message = f"The request body is too large: at most {max_bytes} bytes are taken."
    response = refusal(413, message, media_type=accepted(scope.get("headers", ())))
    await response(scope, receive, send)


class BodySizeLimit:
    """Counts body bytes as they arrive, so a lying or absent Content-Length does not help."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _too_large(scope, receive, send, self.max_bytes)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _too_large(scope, receive, send, self.max_bytes)
