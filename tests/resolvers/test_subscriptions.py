"""Live updates over a real WebSocket against a real server (uvicorn in this process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from config import Settings
from domain.tokens import hash_token, revoke
from events import BROKER, Change
from models.invitation import Invitation
from tests.helpers import (
    PASSWORD,
    GraphQLClient,
    admin_token,
    customer_token,
    make_admin,
    make_customer,
)
from tests.invitation_factories import code_of
from tests.live import Closed, LiveClient, live_client, live_server, refused_code
from tests.mailer import conftest as mail_fixtures
from tests.mailer.conftest import SmtpServer, configured, drain

# The mailer tests' real SMTP server and mailer, used here too.
smtp = mail_fixtures.smtp
mailer_settings = mail_fixtures.mailer_settings
mailer = mail_fixtures.mailer

MINE = "subscription { myInvitationUpdates { id email status } }"
ALL = """
subscription Grid($filter: InvitationFilter) {
  invitationUpdates(filter: $filter) { id email status delivery { state } }
}
"""
SEND = """
mutation Send($emails: [String!]!) {
  sendInvitations(input: {emails: $emails}) { invitations { id } userErrors { code } }
}
"""
CANCEL = "mutation Cancel($id: ID!) { cancelInvitation(id: $id) { userErrors { code } } }"
REGISTER = """
mutation Register($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code } }
}
"""


@pytest.fixture
async def url(settings: Settings) -> AsyncIterator[str]:
    async with live_server(settings) as ws_url:
        yield ws_url


async def _send(gql: GraphQLClient, token: str, *emails: str) -> list[int]:
    body = await gql(SEND, {"emails": list(emails)}, token=token)
    payload = body["data"]["sendInvitations"]
    assert payload["userErrors"] == [], body
    return [int(row["id"]) for row in payload["invitations"]]


async def _statuses(client: LiveClient, field: str, count: int) -> list[tuple[str, str]]:
    return [
        ((row := await client.next_invitation(field))["email"], row["status"]) for _ in range(count)
    ]


async def test_a_customer_sees_not_sent_then_sent_then_accepted(
    url: str, gql: GraphQLClient, smtp: SmtpServer, mailer: Any
) -> None:
    alice = await make_customer("alice@example.com")
    token = await customer_token(alice)
    async with live_client(url, token=token) as client:
        await client.subscribe(MINE)

        [invitation_id] = await _send(gql, token, "friend@example.com")
        created = await client.next_invitation("myInvitationUpdates")
        await drain(mailer)
        sent = await client.next_invitation("myInvitationUpdates")
        code = code_of(await Invitation.get(id=invitation_id))
        registration = {
            "email": "friend@example.com",
            "firstname": "Fred",
            "lastname": "Friend",
            "password": PASSWORD,
            "invitationCode": code,
        }
        body = await gql(REGISTER, {"input": registration})
        assert body["data"]["createCustomer"]["userErrors"] == [], body
        accepted = await client.next_invitation("myInvitationUpdates")

        assert [created["status"], sent["status"], accepted["status"]] == [
            "NOT_SENT",
            "SENT",
            "ACCEPTED",
        ]
        assert {created["id"], sent["id"], accepted["id"]} == {str(invitation_id)}
        assert len(smtp.received) == 1
        # Being claimed and SENDING changed nothing a customer can read: no update for it.
        await client.nothing_within(0.2)


async def test_another_customer_sees_nothing(url: str, gql: GraphQLClient) -> None:
    alice = await make_customer("alice@example.com")
    bob = await make_customer("bob@example.com", firstname="Bob")
    alice_token, bob_token = await customer_token(alice), await customer_token(bob)
    async with live_client(url, token=bob_token) as bobs:
        await bobs.subscribe(MINE)
        async with live_client(url, token=alice_token) as alices:
            await alices.subscribe(MINE)

            [invitation_id] = await _send(gql, alice_token, "friend@example.com")
            await alices.next_invitation("myInvitationUpdates")
            body = await gql(CANCEL, {"id": str(invitation_id)}, token=alice_token)
            assert body["data"]["cancelInvitation"]["userErrors"] == []
            canceled = await alices.next_invitation("myInvitationUpdates")

            assert canceled["status"] == "CANCELED"
            await bobs.nothing_within(0.3)


async def test_an_admin_filtered_by_status_sees_only_matching_changes(
    url: str, gql: GraphQLClient, smtp: SmtpServer, mailer: Any
) -> None:
    alice = await make_customer("alice@example.com")
    token = await customer_token(alice)
    admin = await admin_token(await make_admin())
    async with live_client(url, token=admin) as client:
        await client.subscribe(ALL, {"filter": {"status": ["SENT"]}})

        await _send(gql, token, "one@example.com", "two@example.com")
        await drain(mailer)
        first = await client.next_invitation("invitationUpdates")
        second = await client.next_invitation("invitationUpdates")

        # Created (NOT_SENT) and being sent (still NOT_SENT): filtered out; delivered: SENT.
        assert {first["email"], second["email"]} == {"one@example.com", "two@example.com"}
        assert {first["status"], second["status"]} == {"SENT"}
        assert first["delivery"] == {"state": "DELIVERED"}
        await client.nothing_within(0.2)


async def test_an_admin_without_a_filter_sees_each_delivery_state(
    url: str, gql: GraphQLClient, smtp: SmtpServer, mailer: Any
) -> None:
    alice = await make_customer("alice@example.com")
    admin = await admin_token(await make_admin())
    async with live_client(url, token=admin) as client:
        await client.subscribe(ALL)

        await _send(gql, await customer_token(alice), "friend@example.com")
        await drain(mailer)
        states = [
            (await client.next_invitation("invitationUpdates"))["delivery"]["state"]
            for _ in range(3)
        ]

        assert states == ["QUEUED", "SENDING", "DELIVERED"]


@pytest.mark.parametrize("where", ["payload", "header"])
async def test_a_bad_token_is_refused_with_4403(url: str, where: str) -> None:
    alice = await make_customer("alice@example.com")
    token = await customer_token(alice)
    await revoke(hash_token(token))

    if where == "payload":
        code = await refused_code(url, token=token)
    else:
        code = await refused_code(url, header_token=token)

    assert code == 4403
    assert await refused_code(url, token="not-a-token") == 4403


async def test_the_upgrade_requests_header_signs_in_too(url: str, gql: GraphQLClient) -> None:
    alice = await make_customer("alice@example.com")
    token = await customer_token(alice)
    async with live_client(url, header_token=token) as client:
        await client.subscribe(MINE)

        await _send(gql, token, "friend@example.com")

        assert (await client.next_invitation("myInvitationUpdates"))["status"] == "NOT_SENT"


async def test_graphiqls_headers_pane_signs_in_too(url: str, gql: GraphQLClient) -> None:
    # GraphiQL sends its Headers pane as the connection_init payload, keys as typed.
    alice = await make_customer("alice@example.com")
    token = await customer_token(alice)
    headers = {"Authorization": f"Bearer {token}", "Store": "default"}
    async with live_client(url, payload=headers) as client:
        await client.subscribe(MINE)

        await _send(gql, token, "friend@example.com")

        assert (await client.next_invitation("myInvitationUpdates"))["status"] == "NOT_SENT"


async def test_a_token_revoked_mid_stream_closes_the_socket_with_4403(
    url: str, gql: GraphQLClient
) -> None:
    alice = await make_customer("alice@example.com")
    token = await customer_token(alice)
    async with live_client(url, token=token) as client:
        await client.subscribe(MINE)
        await _send(gql, token, "one@example.com")
        await client.next_invitation("myInvitationUpdates")

        await revoke(hash_token(token))
        await _send(gql, await customer_token(alice), "two@example.com")

        with pytest.raises(Closed) as closed:
            await client.receive()
        assert closed.value.code == 4403
        for _ in range(100):  # the server ends the operation when the socket has closed
            if BROKER.subscriber_count == 0:
                break
            await asyncio.sleep(0.01)
        assert BROKER.subscriber_count == 0


async def test_an_idle_subscription_checks_its_token_periodically(settings: Settings) -> None:
    quick = configured(settings, subscription_token_check_seconds=0.1)
    alice = await make_customer("alice@example.com")
    token = await customer_token(alice)
    async with live_server(quick) as url, live_client(url, token=token) as client:
        await client.subscribe(MINE)

        await revoke(hash_token(token))

        with pytest.raises(Closed) as closed:
            await client.receive(timeout=3)
        assert closed.value.code == 4403


async def test_who_may_subscribe(url: str) -> None:
    alice = await make_customer("alice@example.com")
    customer = await customer_token(alice)
    no_permission = await admin_token(await make_admin("clerk", permissions=[]))

    cases = [(None, MINE, "UNAUTHENTICATED"), (no_permission, MINE, "FORBIDDEN")]
    cases += [(customer, ALL, "FORBIDDEN"), (no_permission, ALL, "FORBIDDEN")]
    for token, document, code in cases:
        async with live_client(url, token=token) as client:
            await client.send_raw({"id": "1", "type": "subscribe", "payload": {"query": document}})
            message = await client.receive()

            assert message["type"] == "error", message
            assert [e["extensions"]["code"] for e in message["payload"]] == [code]


async def test_a_bad_filter_is_refused_at_once(url: str) -> None:
    admin = await admin_token(await make_admin())
    async with live_client(url, token=admin) as client:
        await client.send_raw(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": ALL, "variables": {"filter": {"ids": ["x"]}}},
            }
        )
        message = await client.receive()

        assert message["type"] in ("error", "next"), message
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["BAD_REQUEST"]


async def test_queries_and_mutations_go_over_http_only(url: str) -> None:
    alice = await make_customer("alice@example.com")
    async with live_client(url, token=await customer_token(alice)) as client:
        query = {"query": "{ customer { email } }"}
        await client.send_raw({"id": "1", "type": "subscribe", "payload": query})
        message = await client.receive()

        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["BAD_REQUEST"], message


async def test_subscriptions_per_connection_are_capped(settings: Settings) -> None:
    capped = configured(settings, subscriptions_per_connection=2)
    alice = await make_customer("alice@example.com")
    token = await customer_token(alice)
    async with live_server(capped) as url, live_client(url, token=token) as client:
        await client.subscribe(MINE)
        await client.subscribe(MINE)
        await client.send_raw({"id": "3", "type": "subscribe", "payload": {"query": MINE}})
        message = await client.receive()

        assert message["type"] == "error"
        assert message["id"] == "3"
        assert "limit" in message["payload"][0]["message"]


async def test_a_slow_subscriber_gets_an_error_and_is_ended(
    settings: Settings, gql: GraphQLClient
) -> None:
    tiny = configured(settings, subscription_queue_size=2)
    alice = await make_customer("alice@example.com")
    token = await customer_token(alice)
    async with live_server(tiny) as url, live_client(url, token=token) as client:
        await client.subscribe(MINE)
        [invitation_id] = await _send(gql, token, "friend@example.com")
        await client.next_invitation("myInvitationUpdates")

        # Faster than anyone reads: the queue of two overflows before the subscriber wakes up.
        BROKER.deliver([Change(invitation_id, alice.id)] * 10)
        message = await client.receive()

        assert message["type"] == "next"
        assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == ["SLOW_CONSUMER"]
        assert (await client.receive())["type"] == "complete"
        assert BROKER.subscriber_count == 0


async def test_an_origin_that_is_not_allowed_is_refused(url: str) -> None:
    with pytest.raises(Exception, match="403"):
        async with live_client(url, origin="https://evil.example.com"):
            pass


async def test_a_subscription_over_http_is_a_bad_request(gql: GraphQLClient) -> None:
    token = await customer_token(await make_customer("alice@example.com"))

    body = await gql(MINE, token=token)

    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_REQUEST"]
