"""The trace of a request continues in the mailer: the invitation stores the request's
traceparent, and the send of its e-mail (with its SMTP span) joins that trace."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanMessage
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from config import Settings
from mailer.sink import HOST, free_port
from mailer.worker import Mailer
from models.invitation import DeliveryState, Invitation
from tests.helpers import GraphQLClient, admin_token, customer_token, make_admin, make_customer
from tests.live import server_process
from tests.mailer.conftest import SmtpServer, drain

SEND = """
mutation Send($input: SendInvitationsInput!) {
  sendInvitations(input: $input) { invitations { id } userErrors { code field } }
}
"""
RESEND = """
mutation Resend($ids: [ID!]!) { resendInvitations(ids: $ids) { queuedCount userErrors { code } } }
"""
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
RESEND_TRACE_ID = "5ce929d0e0e47364bf92f3577b34da6a"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


async def test_the_send_of_an_invitation_joins_the_trace_of_the_request_that_queued_it(
    gql: GraphQLClient, smtp: SmtpServer, mailer: Mailer, spans: InMemorySpanExporter
) -> None:
    token = await customer_token(await make_customer("alice@example.com"))
    response = await gql.http.post(
        "/graphql",
        json={"query": SEND, "variables": {"input": {"emails": ["bob@example.com"]}}},
        headers={"Authorization": f"Bearer {token}", "traceparent": TRACEPARENT},
    )
    assert response.json()["data"]["sendInvitations"]["userErrors"] == []
    [request] = [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]
    assert request.name == "mutation Send"
    assert request.context is not None
    row = await Invitation.get(email="bob@example.com")
    assert row.traceparent is not None
    assert row.traceparent == f"00-{TRACE_ID}-{request.context.span_id:016x}-01"

    await drain(mailer)

    row = await Invitation.get(email="bob@example.com")
    assert row.delivery_state is DeliveryState.DELIVERED
    assert len(smtp.received) == 1
    by_name = {span.name: span for span in spans.get_finished_spans()}
    send, smtp_span = by_name["send invitation"], by_name["smtp send"]
    assert send.context is not None
    assert smtp_span.context is not None
    assert smtp_span.parent is not None
    assert send.parent is not None
    assert f"{send.context.trace_id:032x}" == TRACE_ID
    assert f"{smtp_span.context.trace_id:032x}" == TRACE_ID
    assert send.parent.span_id == request.context.span_id
    assert smtp_span.parent.span_id == send.context.span_id
    assert smtp_span.kind is SpanKind.CLIENT
    assert smtp_span.attributes is not None
    assert smtp_span.attributes["server.port"] == smtp.port
    assert send.attributes is not None
    assert send.attributes["invitation.id"] == row.id


async def test_a_refused_send_marks_its_smtp_span_without_the_servers_words(
    gql: GraphQLClient, smtp: SmtpServer, mailer: Mailer, spans: InMemorySpanExporter
) -> None:
    token = await customer_token(await make_customer("alice@example.com"))
    await gql(SEND, {"input": {"emails": ["bob@example.com"]}}, token=token)
    smtp.rcpt_replies.append("550 <bob@example.com> no such user")

    await drain(mailer)

    [smtp_span] = [span for span in spans.get_finished_spans() if span.name == "smtp send"]
    assert smtp_span.attributes is not None
    assert smtp_span.attributes["error.type"] == "Permanent"
    assert smtp_span.events == ()  # the reply quotes the address: not recorded
    assert smtp_span.status.status_code is StatusCode.ERROR
    assert smtp_span.status.description is None


async def test_a_resend_is_sent_in_the_trace_of_the_request_that_resent_it(
    gql: GraphQLClient, smtp: SmtpServer, mailer: Mailer, spans: InMemorySpanExporter
) -> None:
    token = await customer_token(await make_customer("alice@example.com"))
    await gql(SEND, {"input": {"emails": ["bob@example.com"]}}, token=token)
    await drain(mailer)
    row = await Invitation.get(email="bob@example.com")
    spans.clear()

    response = await gql.http.post(
        "/graphql",
        json={"query": RESEND, "variables": {"ids": [str(row.id)]}},
        headers={
            "Authorization": f"Bearer {await admin_token(await make_admin())}",
            "traceparent": f"00-{RESEND_TRACE_ID}-00f067aa0ba902b7-01",
        },
    )
    assert response.json()["data"]["resendInvitations"]["queuedCount"] == 1
    await drain(mailer)

    assert len(smtp.received) == 2
    [send] = [span for span in spans.get_finished_spans() if span.name == "send invitation"]
    assert send.context is not None
    assert f"{send.context.trace_id:032x}" == RESEND_TRACE_ID


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP receiver on loopback: keeps each span it is sent, with its service name."""

    def __init__(self) -> None:
        super().__init__((HOST, free_port()), _Receive)
        self.spans: list[tuple[str, SpanMessage]] = []

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def named(self, name: str) -> list[SpanMessage]:
        return [span for _, span in self.spans if span.name == name]


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/v1/traces" or self.headers["Content-Type"] != "application/x-protobuf":
            self.send_error(404)
            return
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            service = next(
                attribute.value.string_value
                for attribute in resource_spans.resource.attributes
                if attribute.key == "service.name"
            )
            for scope_spans in resource_spans.scope_spans:
                self.server.spans.extend((service, span) for span in scope_spans.spans)
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


async def test_served_with_an_otlp_endpoint_the_whole_trace_reaches_the_collector(
    settings: Settings,
    smtp: SmtpServer,
    collector: Collector,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The standard variables only, as an operator sets them (docs/operations.md).
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "invitations-test")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    token = await customer_token(await make_customer("alice@example.com"))

    async with server_process(
        settings,
        mailer_in_process="true",
        smtp_url=f"smtp://{HOST}:{smtp.port}",
        mailer_poll_seconds="0.05",
    ) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            response = await http.post(
                "/graphql",
                json={"query": SEND, "variables": {"input": {"emails": ["bob@example.com"]}}},
                headers={"Authorization": f"Bearer {token}", "traceparent": TRACEPARENT},
            )
        assert response.json()["data"]["sendInvitations"]["userErrors"] == []
        for _ in range(600):
            if collector.named("smtp send"):
                break
            await asyncio.sleep(0.05)

    assert len(smtp.received) == 1
    [request] = collector.named("mutation Send")
    [send] = collector.named("send invitation")
    [smtp_span] = collector.named("smtp send")
    assert request.trace_id.hex() == TRACE_ID
    assert request.kind == SpanMessage.SPAN_KIND_SERVER
    assert send.trace_id.hex() == TRACE_ID
    assert send.parent_span_id == request.span_id
    assert smtp_span.trace_id.hex() == TRACE_ID
    assert smtp_span.parent_span_id == send.span_id
    inserts = [
        span
        for _, span in collector.spans
        if span.name == "INSERT" and span.parent_span_id == request.span_id
    ]
    assert inserts, "no INSERT under the request"
    assert {service for service, _ in collector.spans} == {"invitations-test"}
