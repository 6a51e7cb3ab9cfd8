"""The trace of a request continues in the mailer: the invitation stores the request's
traceparent, and the send of its e-mail (with its SMTP span) joins that trace."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from mailer.worker import Mailer
from models.invitation import DeliveryState, Invitation
from tests.helpers import GraphQLClient, customer_token, make_customer
from tests.mailer.conftest import SmtpServer, drain

SEND = """
mutation Send($input: SendInvitationsInput!) {
  sendInvitations(input: $input) { invitations { id } userErrors { code field } }
}
"""
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
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
