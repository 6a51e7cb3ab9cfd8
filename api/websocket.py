"""The bounds of a graphql-transport-ws connection, kept by the app whatever server runs it.

Every message is bounded as an HTTP body is (settings.max_body_bytes): a larger one closes the
connection with 1009 (message too big). Before its `connection_init` is accepted a connection is
anonymous, and may send little: at most MAX_MESSAGES_BEFORE_ACK messages of at most
MAX_BYTES_BEFORE_ACK bytes each, within settings.ws_init_timeout_seconds (4408 past that,
Strawberry's own timer). `serve` also gives uvicorn the same bound (cli.main.server_config), so
that a larger message is refused before it is read whole.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Protocol, cast

from graphql import GraphQLError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage,
    Message,
    SubscribeMessage,
)

from api.persisted_queries import PersistedQueries, Refused
from schema.context import Context

if TYPE_CHECKING:
    from strawberry.http.async_base_view import AsyncBaseHTTPView

# connection_init carries a token (a provider's JWT: a few KiB) and a store view code.
MAX_BYTES_BEFORE_ACK = 64 * 1024
MAX_MESSAGES_BEFORE_ACK = 4
MESSAGE_TOO_BIG = 1009


def _larger_than(text: str, limit: int) -> bool:
    """Whether a message takes more than `limit` bytes in UTF-8 (at most 4 a character: encoded
    only when that could matter)."""
    return len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit)


class BoundedWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's adapter, refusing a message larger than `max_bytes` before decoding it."""

    def __init__(self, view: AsyncBaseHTTPView, request: WebSocket, response: WebSocket) -> None:
        super().__init__(view, request, response)
        self.max_bytes = MAX_BYTES_BEFORE_ACK  # raised once the connection is acknowledged

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        # As Strawberry's (strawberry.asgi), with the size check.
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if _larger_than(text, self.max_bytes):
                    reason = f"Message too big: at most {self.max_bytes} bytes"
                    await self.close(MESSAGE_TOO_BIG, reason)
                    return
                try:
                    yield self.view.decode_json(text)
                except ValueError as error:  # json.JSONDecodeError, too deep included
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from error
        except KeyError as error:
            raise NonTextMessageReceived from error
        except WebSocketDisconnect:
            pass


class ViewWithPersistedQueries(Protocol):
    """What the handler needs of its view (api.view.GraphQLView, which uses this module)."""

    persisted: PersistedQueries


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler with the bounds above."""

    websocket: BoundedWebSocketAdapter
    messages_before_ack = 0

    async def handle_message(self, message: Message) -> None:
        if not isinstance(message, dict):  # Strawberry would index it: a TypeError, a traceback
            await self.handle_invalid_message("WebSocket message must be a JSON object")
            return
        if not self.connection_acknowledged:
            self.messages_before_ack += 1
            if self.messages_before_ack > MAX_MESSAGES_BEFORE_ACK:
                await self.websocket.close(4429, "Too many messages before connection_init")
                return
        await super().handle_message(message)
        if self.connection_acknowledged:
            self.websocket.max_bytes = self.context.settings.max_body_bytes

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        # Persisted queries as over HTTP (api.persisted_queries): a document named by its hash,
        # and in persisted-only mode nothing but registered documents.
        payload: object = message.get("payload")
        if self.connection_acknowledged and isinstance(payload, dict):
            query, extensions = payload.get("query"), payload.get("extensions")
            if isinstance(query, str | None) and isinstance(extensions, dict | None):
                try:
                    persisted = cast(ViewWithPersistedQueries, self.view).persisted
                    resolved, _ = await persisted.resolve(query, extensions)
                except Refused as refused:
                    error = GraphQLError(refused.message, extensions={"code": refused.code})
                    await self.send_message(
                        ErrorMessage(id=message["id"], type="error", payload=[error.formatted])
                    )
                    return
                if resolved is not None:
                    payload = {**payload, "query": resolved}
                    message = {**message, "payload": payload}  # type: ignore[typeddict-item]
        await super().handle_subscribe(message)
