"""Webhook events are written in the transaction of the change they report, for each subscribed,
enabled endpoint, with the body of docs/contract/WEBHOOKS.md."""

from __future__ import annotations

from typing import Any

import orjson

from domain import webhooks
from domain.clock import utcnow
from domain.status_changes import change_status
from mailer.worker import Mailer
from models.invitation import Invitation, InvitationStatus
from models.webhooks import WebhookDelivery, WebhookEventType
from tests.helpers import (
    PASSWORD,
    TEST_SECRET,
    GraphQLClient,
    admin_token,
    customer_token,
    make_admin,
    make_customer,
)
from tests.invitation_factories import code_of
from tests.mailer.conftest import SmtpServer, drain

SEND = """
mutation Send($input: SendInvitationsInput!) {
  sendInvitations(input: $input) { invitations { id } userErrors { code } }
}
"""
REGISTER = """
mutation Register($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code } }
}
"""
CANCEL = "mutation Cancel($id: ID!) { cancelInvitation(id: $id) { userErrors { code } } }"
DISCARD = "mutation D($ids: [ID!]!) { discardInvitations(ids: $ids) { discardedCount } }"
CREATE = """
mutation C($input: CreateInvitationsInput!) {
  createInvitations(input: $input) { invitations { id } userErrors { code } }
}
"""
KEYS = webhooks.Keys(secret_key=TEST_SECRET, allow_private=True)
ALL = list(WebhookEventType)


async def _endpoint(events: list[WebhookEventType] = ALL, url: str = "http://127.0.0.1:9/") -> int:
    created = await webhooks.create(url=url, events=events, description=None, keys=KEYS)
    return created.endpoint.id


async def _bodies(endpoint_id: int | None = None) -> list[dict[str, Any]]:
    rows = WebhookDelivery.all().order_by("id")
    if endpoint_id is not None:
        rows = rows.filter(endpoint_id=endpoint_id)
    return [orjson.loads(row.body) for row in await rows]


async def test_a_journey_reports_created_sent_and_accepted(
    gql: GraphQLClient, smtp: SmtpServer, mailer: Mailer
) -> None:
    endpoint = await _endpoint()
    only_accepted = await _endpoint([WebhookEventType.INVITATION_ACCEPTED])
    alice = await make_customer("alice@example.com")
    token = await customer_token(alice)

    await gql(SEND, {"input": {"emails": ["bob@example.com"]}}, token=token)
    await drain(mailer)
    invitation = await Invitation.get(email="bob@example.com")
    registered = await gql(
        REGISTER,
        {
            "input": {
                "email": "bob@example.com",
                "firstname": "Bob",
                "lastname": "B",
                "password": PASSWORD,
                "invitationCode": code_of(invitation),
            }
        },
    )

    bodies = await _bodies(endpoint)
    assert [b["type"] for b in bodies] == [
        "invitation.created",
        "invitation.sent",
        "invitation.accepted",
    ]
    created, sent, accepted = (b["data"]["invitation"] for b in bodies)
    bob_id = registered["data"]["createCustomer"]["customer"]["id"]
    assert accepted == {
        "id": str(invitation.id),
        "email": "bob@example.com",
        "status": "ACCEPTED",
        "storeView": "default",
        "website": "base",
        "inviterCustomerId": str(alice.id),
        "inviteeCustomerId": bob_id,
        "createdAt": accepted["createdAt"],
        "sentAt": sent["sentAt"],
        "acceptedAt": accepted["acceptedAt"],
        "expiresAt": None,
    }
    assert (created["status"], created["sentAt"], created["inviteeCustomerId"]) == (
        "NOT_SENT",
        None,
        None,
    )
    assert sent["status"] == "SENT" and sent["sentAt"] is not None  # noqa: PT018
    stored = await Invitation.get(id=invitation.id)
    assert stored.accepted_at is not None and stored.sent_at is not None  # noqa: PT018
    assert accepted["acceptedAt"] == stored.accepted_at.isoformat(timespec="microseconds")
    assert sent["sentAt"] == stored.sent_at.isoformat(timespec="microseconds")
    assert bodies[2]["timestamp"].endswith("+00:00")
    assert [b["type"] for b in await _bodies(only_accepted)] == ["invitation.accepted"]
    deliveries = await WebhookDelivery.all()
    assert len({d.webhook_id for d in deliveries}) == len(deliveries) == 4
    assert all(d.webhook_id.startswith("msg_") for d in deliveries)


async def test_cancel_discard_expire_and_failed_delivery_are_reported(
    gql: GraphQLClient, smtp: SmtpServer, mailer: Mailer, settings: Any
) -> None:
    endpoint = await _endpoint(
        [
            WebhookEventType.INVITATION_CANCELED,
            WebhookEventType.INVITATION_EXPIRED,
            WebhookEventType.INVITATION_DELIVERY_FAILED,
        ]
    )
    alice = await make_customer("alice@example.com")
    token = await customer_token(alice)
    admin = await admin_token(await make_admin())
    sent = await gql(
        SEND,
        {"input": {"emails": ["one@example.com", "two@example.com", "three@example.com"]}},
        token=token,
    )
    one, two, three = (int(i["id"]) for i in sent["data"]["sendInvitations"]["invitations"])
    smtp.rcpt_replies.extend(["550 no such user"] * 3)
    await drain(mailer)  # all three fail permanently

    await gql(CANCEL, {"id": str(one)}, token=token)
    await gql(DISCARD, {"ids": [str(two)]}, token=admin)
    now = utcnow()
    await change_status(
        Invitation.filter(id=three),
        (three, alice.id),
        InvitationStatus.EXPIRED,
        actor="system",
        now=now,
    )

    bodies = await _bodies(endpoint)
    assert sorted((b["type"], b["data"]["invitation"]["id"]) for b in bodies) == sorted(
        [
            ("invitation.delivery_failed", str(one)),
            ("invitation.delivery_failed", str(two)),
            ("invitation.delivery_failed", str(three)),
            ("invitation.canceled", str(one)),
            ("invitation.canceled", str(two)),
            ("invitation.expired", str(three)),
        ]
    )
    assert {
        b["data"]["invitation"]["status"] for b in bodies if b["type"].endswith("canceled")
    } == {"CANCELED"}


async def test_admin_created_invitations_are_reported_and_disabled_endpoints_skipped(
    gql: GraphQLClient,
) -> None:
    endpoint = await _endpoint([WebhookEventType.INVITATION_CREATED])
    disabled = await _endpoint([WebhookEventType.INVITATION_CREATED])
    await webhooks.update(
        raw_id=str(disabled), url=None, events=None, enabled=False, description=None, keys=KEYS
    )
    admin = await admin_token(await make_admin())

    body = await gql(
        CREATE,
        {"input": {"emails": ["a@example.com", "b@example.com"], "storeViewId": "1"}},
        token=admin,
    )

    assert body["data"]["createInvitations"]["userErrors"] == []
    bodies = await _bodies(endpoint)
    assert [(b["type"], b["data"]["invitation"]["email"]) for b in bodies] == [
        ("invitation.created", "a@example.com"),
        ("invitation.created", "b@example.com"),
    ]
    assert bodies[0]["data"]["invitation"]["inviterCustomerId"] is None
    assert await _bodies(disabled) == []


async def test_a_change_that_does_not_happen_records_no_event() -> None:
    endpoint = await _endpoint([WebhookEventType.INVITATION_CANCELED])
    alice = await make_customer("alice@example.com")
    invitation = await Invitation.create(
        email="x@example.com",
        email_key="x@example.com",
        created_at=utcnow(),
        updated_at=utcnow(),
        store_view_id=1,
        website_id=1,
        inviter_id=alice.id,
        code_nonce="n" * 16,
    )

    changed = await change_status(
        Invitation.filter(id=invitation.id, status=InvitationStatus.ACCEPTED),
        invitation,
        InvitationStatus.CANCELED,
        actor="system",
        now=utcnow(),
    )

    assert changed is False
    assert await _bodies(endpoint) == []
