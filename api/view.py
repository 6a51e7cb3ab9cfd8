"""The ASGI GraphQL view: builds the typed Context of each request."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from api.outage import ServiceOutage
from api.store_views import StoreViewCache
from config import Settings
from domain.tokens import authenticate
from schema.context import Context, rate_limits


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else authorization.strip()


# JSON may escape lone UTF-16 surrogates ("\\ud800"); Python decodes them into strings that no
# database driver or password hasher can encode. Only bodies with such an escape are checked.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_unencodable_text(value: object) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_unencodable_text(k) or _has_unencodable_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_unencodable_text(item) for item in value)
    return False


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI app with our context."""

    def decode_json(self, data: str | bytes) -> object:
        try:
            decoded = json.loads(data)
        except UnicodeDecodeError as error:
            raise HTTPException(400, "The request body is not valid UTF-8.") from error
        raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
        if _SURROGATE_ESCAPE.search(raw) and _has_unencodable_text(decoded):
            raise HTTPException(400, "The request body holds text that is not valid Unicode.")
        return decoded

    def encode_json(self, data: object) -> str:
        # orjson writes a page of rows several times faster than json.dumps (and UTF-8 rather
        # than \u escapes). Text, not bytes: bytes would make WebSocket messages binary frames.
        try:
            return orjson.dumps(data).decode()
        except TypeError:  # a lone surrogate, which orjson refuses and json escapes
            return super().encode_json(data)  # type: ignore[return-value]

    def __init__(
        self, *args: Any, settings: Settings, outage: ServiceOutage, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.outage = outage
        self.rate_limits = rate_limits(settings)
        self.store_views = StoreViewCache()

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        store_code = request.headers.get("store")
        store = await self.store_views.find(store_code.strip() if store_code else None)
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
            rate_limits=self.rate_limits,
            outage=self.outage,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """graphql-transport-ws `connection_init`: its payload may sign in and pick the store view,
        as browsers cannot set headers on a WebSocket.

        `{"authorization": "Bearer <token>", "store": "<code>"}` (or capitalised, as GraphiQL sends
        its Headers pane); a token there replaces the upgrade request's. A token that is unknown,
        expired or revoked closes the socket (4403).
        """
        params = context.connection_params or {}
        authorization = params.get("authorization", params.get("Authorization"))
        if authorization is not None:
            token = bearer_token(authorization) if isinstance(authorization, str) else None
            principal = await authenticate(token) if token else None
            if principal is None:
                raise ConnectionRejectionError
            context.principal, context.bad_token = principal, False
        if context.bad_token:
            raise ConnectionRejectionError
        store_code = params.get("store", params.get("Store"))
        if isinstance(store_code, str):
            context.store_code = store_code
            context.store = await self.store_views.find(store_code.strip())
        return UNSET
