"""The ASGI GraphQL view: builds the typed Context of each request."""

from __future__ import annotations

import json
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from api.graphiql import GraphiQLFiles
from api.outage import ServiceOutage
from api.persisted_queries import PRIVATE, Persisted, PersistedQueries, Refused, document_check
from api.responses import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    accepted,
    content_type,
    negotiate,
    refusal,
    status_of,
)
from api.schema import Schema
from api.store_views import StoreViewCache
from api.websocket import BoundedWebSocketAdapter, TransportWSHandler
from config import Settings
from domain import service_keys
from domain.persisted_queries import Registration
from domain.provider_tokens import ProviderTokenRejected, ProviderTokens, looks_like_jwt
from domain.tokens import Principal, authenticate
from models.store import StoreView
from schema.context import Context, rate_limits


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else authorization.strip()


# The deepest nesting of arrays and objects a request body (or WebSocket message) may have. A
# GraphQL request nests four or five deep (the body, its variables, an input, a list); orjson
# stops at 1024 by itself, deeper than any Python code walking the value could recurse.
MAX_JSON_DEPTH = 32


def _nested_too_deep(value: dict[str, Any] | list[Any]) -> bool:
    """Whether arrays and objects nest deeper than MAX_JSON_DEPTH in `value` (no recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        container, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        children = container.values() if isinstance(container, dict) else container
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def decode_json(data: str | bytes) -> object:
    """A JSON text as Python values; json.JSONDecodeError for anything else.

    orjson refuses what no database driver or password hasher could take (invalid UTF-8, lone
    UTF-16 surrogates escaped as "\\ud800") and nesting beyond 1024 levels; this bounds the
    nesting further.
    """
    decoded = orjson.loads(data)  # orjson.JSONDecodeError is a json.JSONDecodeError
    if isinstance(decoded, dict | list) and _nested_too_deep(decoded):
        raise json.JSONDecodeError(f"arrays and objects nest deeper than {MAX_JSON_DEPTH}", "", 0)
    return decoded


# What a POST may be to take the view's short way (GraphQLView._short_post).
_PLAIN_JSON = (
    b"application/json",
    b"application/json; charset=utf-8",
    b"application/json;charset=utf-8",
)
_STREAMED = (b"multipart/mixed", b"text/event-stream")
_PLAIN_REQUEST = frozenset({"query", "variables", "operationName"})
_POST = OperationType.from_http("POST")


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI app with our context, our JSON and the media types of GraphQL over HTTP.

    Whatever reaches /graphql over HTTP is answered in JSON: a refusal too (Strawberry's own are
    plain text), in the media type the client accepts (api.responses).
    """

    websocket_adapter_class = BoundedWebSocketAdapter
    graphql_transport_ws_handler_class = TransportWSHandler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self._short_post(request) if self._may_be_short(scope) else None
            if response is None:
                response = await self.run(request)
        except HTTPException as error:
            headers = {"Allow": "GET, POST"} if error.status_code == 405 else None
            media_type = accepted(scope["headers"])
            response = refusal(
                error.status_code, error.reason, media_type=media_type, headers=headers
            )
        except Refused as error:
            response = refusal(
                error.status_code,
                error.message,
                code=error.code,
                media_type=accepted(scope["headers"]),
                headers=error.headers,
            )
        if scope["method"] == "GET" and "cache-control" not in response.headers:
            response.headers["cache-control"] = getattr(request.state, "cache_control", PRIVATE)
            response.headers["vary"] = "Accept, Store, Authorization"
        await response(scope, receive, send)

    def _may_be_short(self, scope: Scope) -> bool:
        """Whether a request may take the short way below: a POST of JSON to be answered in
        JSON (no streamed transport), by a schema with a short way, not in persisted-only mode."""
        if scope["method"] != "POST" or self.short is None or self.persisted.only:
            return False
        content_type = accept = None
        for name, value in scope["headers"]:  # the first of each, as Starlette's headers read
            if name == b"content-type" and content_type is None:
                content_type = value.lower()
            elif name == b"accept" and accept is None:
                accept = value.lower()
        return content_type in _PLAIN_JSON and not any(s in (accept or b"") for s in _STREAMED)

    async def _short_post(self, request: Request) -> Response | None:
        """The answer to a plain GraphQL POST whose document takes the short way of
        schema.operation, without Strawberry's HTTP run (its request adapter, body parsing and
        result checks: about 3 % of a page's read); None leaves the request to that run.

        Only a body of `query` (a string), `variables` (an object or null) and `operationName`
        (a string or null) qualifies; its context, once built, is the run's too (with its
        sub-response), should the principal or the Store header keep it from the short way.
        """
        short = self.short
        assert short is not None, "_may_be_short checked it"
        try:
            data = decode_json(await request.body())
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict) or not data.keys() <= _PLAIN_REQUEST:
            return None
        query, variables, name = data.get("query"), data.get("variables"), data.get("operationName")
        if not (isinstance(variables, dict | None) and isinstance(name, str | None)):
            return None
        known = short.document(query if isinstance(query, str) else None, name, _POST)
        if known is None:
            return None
        sub_response = await self.get_sub_response(request)
        request.state.sub_response = sub_response
        context = await self.get_context(request, sub_response)
        if not short.admits(known, context):
            return await self.run(request, context=context)
        request.state.persisted, request.state.query = None, query
        result = await short.execute(
            known, variable_values=variables, context=context, root_value=None,
            operation_extensions=None,
        )  # fmt: skip
        return self.create_response(await self.process_result(request, result), sub_response)

    async def render_graphql_ide(self, request: Request) -> Response:
        # Our page, loading nothing from another origin (api/graphiql.py), not Strawberry's.
        assert self.graphiql is not None, "Strawberry renders the IDE only when one is set"
        return self.graphiql.page(request)

    def decode_json(self, data: str | bytes) -> object:
        return decode_json(data)

    def encode_json(self, data: object) -> str:
        # orjson writes a page of rows several times faster than json.dumps (and UTF-8 rather
        # than \u escapes). Text, not bytes: bytes would make WebSocket messages binary frames.
        try:
            return orjson.dumps(data).decode()
        except TypeError:  # a lone surrogate, which orjson refuses and json escapes
            return super().encode_json(data)  # type: ignore[return-value]

    def parse_json(self, data: str | bytes) -> Any:
        # Strawberry reads the decoded body with `.get`: anything but an object would fail there.
        try:
            decoded = self.decode_json(data)
        except json.JSONDecodeError as error:
            raise HTTPException(400, f"The request is not valid JSON: {error.msg}.") from error
        if isinstance(decoded, list):
            raise HTTPException(400, "Batching is not supported: send one request at a time.")
        if not isinstance(decoded, dict):
            raise HTTPException(400, "The request must be a JSON object: a GraphQL request.")
        return decoded

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:
        data = await super().parse_http_body(request)
        assert isinstance(data, GraphQLRequestData), "parse_json takes no batch"
        if not isinstance(data.operation_name, str | None):
            raise HTTPException(400, "The GraphQL request's `operationName` must be a string.")
        return data

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A persisted query by GET has no `query` either. (Only a GET renders it: a POST is
        # answered without parsing its query string.)
        return (
            request.method == "GET"
            and "extensions" not in request.query_params
            and super().should_render_graphql_ide(request)
        )

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        # Every HTTP operation passes here, streamed or not: the document it runs is decided here.
        assert isinstance(request_data, GraphQLRequestData), "parse_json takes no batch"
        query, persisted = await self.persisted.resolve(request_data.query, request_data.extensions)
        if request_adapter.method == "GET" and persisted is None:
            raise HTTPException(
                400,
                "GET is for persisted queries only (extensions.persistedQuery): "
                "send other requests by POST.",
            )
        request_data.query = query
        request.state.persisted, request.state.query = persisted, query
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as error:
            if request_adapter.method == "GET" and isinstance(
                error.__cause__, InvalidOperationTypeError
            ):
                raise Refused(
                    405,
                    "Only queries may be sent by GET: send mutations by POST.",
                    headers={"Allow": "POST"},
                ) from error
            raise

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        made: Response | None = getattr(request.state, "sub_response", None)
        if made is not None:  # by _short_post, whose context holds it
            return made
        response = await super().get_sub_response(request)
        response.media_type = negotiate(request.headers.get("accept"))
        return response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        data = process_result(result)
        # Nothing ran when no error names a field: the request failed to parse or validate, its
        # variables did not coerce, or an extension refused it whole.
        if (
            result.data is None
            and result.errors
            and all(error.path is None for error in result.errors)
            and negotiate(request.headers.get("accept")) == GRAPHQL_RESPONSE_JSON
        ):
            del data["data"]
        persisted: Persisted | None = getattr(request.state, "persisted", None)
        if persisted is not None and persisted.registration is Registration.FULL:
            data["extensions"] = {
                **(data.get("extensions") or {}),
                "persistedQuery": {
                    "registered": False,
                    "message": f"Not registered: {self.persisted.limit} persisted queries are, "
                    "the most this service keeps. The operation ran; send its query each time.",
                },
            }
        if request.method == "GET":
            request.state.cache_control = self.cache_control(request, result)
        return data

    def cache_control(self, request: Request, result: ExecutionResult) -> str:
        """A GET answer's Cache-Control: public for a public operation answered without error
        to a request without a token (see api.persisted_queries)."""
        if result.errors or "authorization" in request.headers:
            return PRIVATE
        params = request.query_params
        query = getattr(request.state, "query", None)
        if query is None or not self.persisted.is_public(query, params.get("operationName")):
            return PRIVATE
        return f"public, max-age={self.settings.public_max_age_seconds}"

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = sub_response.media_type or JSON
        if media_type == GRAPHQL_RESPONSE_JSON:
            response.headers["content-type"] = content_type(media_type)
            if isinstance(response_data, dict) and "data" not in response_data:
                response.status_code = status_of(response_data.get("errors") or [])
                if response.status_code == 401:
                    response.headers["www-authenticate"] = "Bearer"
        return response

    def __init__(
        self,
        *args: Any,
        settings: Settings,
        outage: ServiceOutage,
        graphiql: GraphiQLFiles | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # Strawberry renders an IDE when this is set: ours (render_graphql_ide), or none.
        self.graphql_ide = "graphiql" if graphiql else None
        self.graphiql = graphiql
        self.settings = settings
        self.outage = outage
        self.rate_limits = rate_limits(settings)
        self.store_views = StoreViewCache()
        assert isinstance(self.schema, Schema), "built by api.schema.build_schema"
        self.short = self.schema.short_operations
        self.persisted = PersistedQueries(
            limit=settings.persisted_queries_max,
            cached=settings.persisted_queries_cached,
            only=settings.persisted_only,
            check=document_check(self.schema.check_document),
        )
        self.provider_tokens = ProviderTokens.configured(
            customer=(
                settings.customer_jwt_issuer,
                settings.customer_jwt_jwks_url,
                settings.customer_jwt_audience,
            ),
            admin=(
                settings.admin_jwt_issuer,
                settings.admin_jwt_jwks_url,
                settings.admin_jwt_audience,
            ),
            permissions_claim=settings.admin_jwt_permissions_claim,
            refetch_seconds=settings.jwt_keys_refetch_seconds,
        )

    async def authenticate(
        self, token: str, store: StoreView | None
    ) -> tuple[Principal | None, str | None]:
        """The principal of a built-in token or a provider's JWT, else why the token fails."""
        if self.provider_tokens.enabled and looks_like_jwt(token):
            website_id = store.website_id if store is not None else None
            try:
                return await self.provider_tokens.authenticate(token, website_id=website_id), None
            except ProviderTokenRejected as error:
                return None, str(error)
        if service_keys.is_service_key(token):
            return await service_keys.authenticate(token), None
        return await authenticate(token), None

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        store_code = request.headers.get("store")
        store = await self.store_views.find(store_code.strip() if store_code else None)
        token = bearer_token(request.headers.get("authorization"))
        principal, problem = await self.authenticate(token, store) if token else (None, None)
        return Context(
            request=request,
            response=response if isinstance(response, Response) else None,
            settings=self.settings,
            store=store,
            store_code=store_code,
            principal=principal,
            bad_token=token is not None and principal is None,
            token_problem=problem,
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
            principal, _ = await self.authenticate(token, context.store) if token else (None, None)
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
