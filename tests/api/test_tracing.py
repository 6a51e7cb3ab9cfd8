"""Request spans (api/tracing.py): one per HTTP request and per WebSocket operation, named after
the operation, with database queries as children, continuing an incoming traceparent."""

from __future__ import annotations

import asyncio
import json

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from websockets.asyncio.client import connect

from config import Settings
from tests.helpers import customer_token, make_customer
from tests.live import PROTOCOL, live_server

MINE = "query Mine { myInvitations(first: 5) { nodes { email } } }"
ANONYMOUS = "{ storeViews { code } }"
UPDATES = "subscription Updates { myInvitationUpdates { id status } }"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


def server_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.kind is SpanKind.SERVER]


async def test_a_request_is_one_span_named_after_its_operation_with_its_queries_inside(
    http: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    token = await customer_token(await make_customer("alice@example.com"))

    response = await http.post(
        "/graphql", json={"query": MINE}, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200, response.text
    [request] = server_spans(spans)
    assert request.name == "query Mine"
    assert request.attributes is not None
    assert request.attributes["graphql.operation.type"] == "query"
    assert request.attributes["graphql.operation.name"] == "Mine"
    assert request.attributes["http.request.method"] == "POST"
    assert request.attributes["http.response.status_code"] == 200
    assert request.context is not None
    queries = [
        span
        for span in spans.get_finished_spans()
        if span.attributes and "db.system.name" in span.attributes
    ]
    assert queries, "no database span"
    for query in queries:
        assert query.kind is SpanKind.CLIENT
        assert query.context is not None
        assert query.parent is not None
        assert query.context.trace_id == request.context.trace_id
        assert query.parent.span_id == request.context.span_id
    texts = [str(query.attributes["db.query.text"]) for query in queries if query.attributes]
    assert any("invitation" in text for text in texts), texts


async def test_an_anonymous_operation_is_named_by_its_type(
    http: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    response = await http.post("/graphql", json={"query": ANONYMOUS})

    assert response.status_code == 200, response.text
    [request] = server_spans(spans)
    assert request.name == "query"
    assert request.attributes is not None
    assert "graphql.operation.name" not in request.attributes


async def test_an_incoming_traceparent_is_the_request_spans_parent(
    http: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    response = await http.post(
        "/graphql", json={"query": ANONYMOUS}, headers={"traceparent": TRACEPARENT}
    )

    assert response.status_code == 200, response.text
    [request] = server_spans(spans)
    assert request.context is not None
    assert request.parent is not None
    assert f"{request.context.trace_id:032x}" == TRACE_ID
    assert f"{request.parent.span_id:016x}" == PARENT_ID
    assert request.parent.is_remote


async def test_a_request_refused_before_it_parses_keeps_its_http_name(
    http: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    response = await http.post("/graphql", content=b"{not json", headers={"traceparent": "junk"})

    assert response.status_code == 400
    [request] = server_spans(spans)
    assert request.name == "POST /graphql"
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 400
    assert request.parent is None  # a malformed traceparent starts a new trace


async def test_each_websocket_operation_is_a_span_under_the_upgrades_traceparent(
    settings: Settings, spans: InMemorySpanExporter
) -> None:
    token = await customer_token(await make_customer("alice@example.com"))

    async with (
        live_server(settings) as url,
        connect(
            url,
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
            additional_headers={"traceparent": TRACEPARENT},
            open_timeout=5,
        ) as ws,
    ):
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": UPDATES}}))
        await asyncio.sleep(0.2)
        await ws.send(json.dumps({"id": "1", "type": "complete"}))
        for _ in range(250):
            if server_spans(spans):
                break
            await asyncio.sleep(0.02)

    [operation] = server_spans(spans)
    assert operation.name == "subscription Updates"
    assert operation.attributes is not None
    assert operation.attributes["graphql.operation.type"] == "subscription"
    assert operation.status.status_code is StatusCode.UNSET  # a completed subscription is no error
    assert operation.context is not None
    assert operation.parent is not None
    assert f"{operation.context.trace_id:032x}" == TRACE_ID
    assert f"{operation.parent.span_id:016x}" == PARENT_ID
