"""The ASGI GraphQL view: builds the typed Context of each request."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from config import Settings
from models.store import find_store_view
from models.tokens import authenticate
from schema.context import Context, code_lookup_limiter


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else authorization.strip()


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI app with our context."""

    def __init__(self, *args: Any, settings: Settings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.code_lookups = code_lookup_limiter()

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        store_code = request.headers.get("store")
        store = await find_store_view(store_code.strip() if store_code else None)
        token = bearer_token(request.headers.get("authorization"))
        principal = await authenticate(token) if token else None
        return Context(
            request=request,
            response=response if isinstance(response, Response) else None,
            settings=self.settings,
            store=store,
            store_code=store_code,
            principal=principal,
            bad_token=token is not None and principal is None,
            code_lookups=self.code_lookups,
        )
