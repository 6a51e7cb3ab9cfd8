"""Request spans (domain/tracing.py sets tracing up): one per HTTP request to /graphql and one
per operation over WebSocket, named after the GraphQL operation (`query myInvitations`), and
continuing the trace of an incoming `traceparent` header (or what OTEL_PROPAGATORS names).

Off, each request costs a check of `tracing.tracer()`: no span, no context lookup.
"""

from __future__ import annotations

from collections.abc import Iterator

from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, get_current_span
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from domain import tracing


def _incoming(headers: Headers) -> Context:
    """The trace context the request's headers carry (OTEL_PROPAGATORS: W3C by default)."""
    from opentelemetry import propagate  # loads the propagators: only once tracing is on

    return propagate.extract(headers)


class TracedRequests:
    """A span around each HTTP request to the app it wraps, with its method and status."""

    def __init__(self, app: ASGIApp, *, route: str) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        running = tracing.tracer()
        if running is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        attributes = {
            "http.request.method": method,
            "http.route": self.route,
            "url.path": scope["path"],
        }
        with running.start_as_current_span(
            f"{method} {self.route}",
            context=_incoming(Headers(scope=scope)),
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            await self.app(scope, receive, send_traced)


def _name_after_operation(span: Span, execution: ExecutionContext) -> None:
    """`<type> <name>` and the graphql.operation.* attributes, once the document is parsed."""
    if execution.graphql_document is None:
        return  # did not parse: the span keeps its name
    try:
        operation_type = execution.operation_type.value
    except RuntimeError:  # no operation of that name: refused before it ran
        return
    name = execution.operation_name
    span.set_attribute("graphql.operation.type", operation_type)
    if name:
        span.set_attribute("graphql.operation.name", name)
    span.update_name(f"{operation_type} {name}" if name else operation_type)


class TraceOperations(SchemaExtension):
    """Names the request's span after its operation; over WebSocket, each operation's own span
    (a child of the `traceparent` the connection's upgrade request carried)."""

    def on_operation(self) -> Iterator[None]:
        running = tracing.tracer()
        if running is None:
            yield
            return
        execution = self.execution_context
        request = execution.context.request
        if not isinstance(request, WebSocket):
            span = get_current_span()  # TracedRequests'
            try:
                yield
            finally:
                _name_after_operation(span, execution)
            return
        with running.start_as_current_span(
            "graphql",
            context=_incoming(request.headers),
            kind=SpanKind.SERVER,
            attributes={"network.protocol.name": "websocket"},
        ) as span:
            try:
                yield
            finally:  # a subscription ends with its generator closed: GeneratorExit here
                _name_after_operation(span, execution)
