"""The admin's invitation mutations over HTTP: createInvitations, updateInvitation,
discardInvitations and resendInvitations, with every per-address and per-id outcome."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain import admin_invitations, codes
from domain.clock import utcnow
from domain.validation import email_key
from models.accounts import AdminUser
from models.invitation import DeliveryState, Invitation, InvitationStatus, InvitationStatusChange
from models.store import CustomerGroup, StoreView
from tests.helpers import GraphQLClient, admin_token, make_admin, make_customer
from tests.invitation_factories import set_settings

NODE = """
  id email status message expiresAt
  storeView { code } inviteeGroup { code } inviter { id }
  history { status actor }
  delivery { state attempts messageId }
"""

CREATE = f"""
mutation Create($input: CreateInvitationsInput!) {{
  createInvitations(input: $input) {{
    invitations {{ {NODE} }}
    userErrors {{ code field message }}
  }}
}}
"""

UPDATE = f"""
mutation Update($id: ID!, $input: UpdateInvitationInput!) {{
  updateInvitation(id: $id, input: $input) {{
    invitation {{ {NODE} }}
    userErrors {{ code field message }}
  }}
}}
"""

DISCARD = """
mutation Discard($ids: [ID!]!) {
  discardInvitations(ids: $ids) {
    discardedCount
    invitations { id status history { status actor } }
    userErrors { code field message }
  }
}
"""

RESEND = """
mutation Resend($ids: [ID!]!) {
  resendInvitations(ids: $ids) {
    queuedCount
    invitations { id status history { status actor } delivery { state attempts messageId } }
    userErrors { code field message }
  }
}
"""


@pytest.fixture
async def admin() -> AdminUser:
    return await make_admin()


@pytest.fixture
async def token(admin: AdminUser) -> str:
    return await admin_token(admin)


async def row(
    email: str = "friend@example.com",
    *,
    status: InvitationStatus = InvitationStatus.NOT_SENT,
    delivery: DeliveryState = DeliveryState.QUEUED,
    inviter_id: int | None = None,
    expired: bool = False,
    **extra: Any,
) -> Invitation:
    """An invitation as the mailer and others may have left it."""
    store = await StoreView.get(code="default")
    now = utcnow()
    return await Invitation.create(
        email=email,
        email_key=email_key(email),
        status=status,
        created_at=now - timedelta(days=10),
        updated_at=now,
        expires_at=now - timedelta(days=1) if expired else None,
        store_view_id=store.id,
        website_id=store.website_id,
        inviter_id=inviter_id,
        code_nonce=codes.new_nonce(),
        delivery_state=delivery,
        **extra,
    )


def errors(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


# ---------------------------------------------------------------- createInvitations


async def create(gql: GraphQLClient, token: str, **input: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {"storeViewId": str((await StoreView.get(code="sv")).id)}
    body = await gql(CREATE, {"input": defaults | input}, token=token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createInvitations"]
    return payload


async def test_create_invites_from_a_store_view_with_a_group_and_lifetime(
    gql: GraphQLClient, token: str
) -> None:
    await set_settings(lifetime_days=3)
    wholesale = await CustomerGroup.get(code="Wholesale")

    payload = await create(
        gql,
        token,
        emails=[" Ann@EXAMPLE.com", "bob@example.com"],
        message="Welcome",
        inviteeGroupId=str(wholesale.id),
    )

    assert payload["userErrors"] == []
    first, second = payload["invitations"]
    assert [first["email"], second["email"]] == ["Ann@example.com", "bob@example.com"]
    assert first["status"] == "NOT_SENT"
    assert first["message"] == "Welcome"
    assert first["storeView"] == {"code": "sv"}
    assert first["inviteeGroup"] == {"code": "Wholesale"}
    assert first["inviter"] is None
    assert first["history"] == [{"status": "NOT_SENT", "actor": "admin:root"}]
    assert first["delivery"] == {"state": "QUEUED", "attempts": 0, "messageId": None}
    stored = await Invitation.get(id=int(first["id"]))
    assert stored.created_by_admin_id is not None
    assert stored.expires_at is not None
    assert stored.expires_at - stored.created_at == timedelta(days=3)


async def test_create_reports_each_refused_address_at_its_index(
    gql: GraphQLClient, token: str
) -> None:
    customer = await make_customer("member@example.com")
    await row("open@example.com", inviter_id=customer.id)  # a customer's open invitation
    await row("gone@example.com", status=InvitationStatus.CANCELED)
    await row("lapsed@example.com", status=InvitationStatus.SENT, expired=True)

    payload = await create(
        gql,
        token,
        emails=[
            "new@example.com",
            "not an address",
            "NEW@example.com",
            "Member@example.com",
            "open@example.com",
            "gone@example.com",
            "lapsed@example.com",
        ],
    )

    assert [i["email"] for i in payload["invitations"]] == [
        "new@example.com",
        "gone@example.com",
        "lapsed@example.com",
    ]
    assert errors(payload) == [
        ("INVALID_EMAIL", ["input", "emails", "1"]),
        ("DUPLICATE_INPUT", ["input", "emails", "2"]),
        ("CUSTOMER_EXISTS", ["input", "emails", "3"]),
        ("ALREADY_INVITED", ["input", "emails", "4"]),
    ]
    lapsed = await Invitation.get(email="lapsed@example.com", created_by_admin_id=None)
    assert lapsed.status is InvitationStatus.EXPIRED
    assert await InvitationStatusChange.filter(
        invitation_id=lapsed.id, status=InvitationStatus.EXPIRED, actor="system"
    ).exists()


@pytest.mark.parametrize(
    ("input", "code", "field"),
    [
        ({"storeViewId": "999"}, "NOT_FOUND", ["input", "storeViewId"]),
        ({"storeViewId": "x"}, "INVALID_INPUT", ["input", "storeViewId"]),
        ({"inviteeGroupId": "999"}, "NOT_FOUND", ["input", "inviteeGroupId"]),
        ({"message": "x" * 2001}, "MESSAGE_TOO_LONG", ["input", "message"]),
        ({"message": "a\u202eb"}, "INVALID_INPUT", ["input", "message"]),
        ({"emails": ["a@example.com"] * 10_001}, "TOO_MANY_RECIPIENTS", ["input", "emails"]),
    ],
)
async def test_create_refuses_the_whole_request(
    gql: GraphQLClient, token: str, input: dict[str, Any], code: str, field: list[str]
) -> None:
    payload = await create(gql, token, **({"emails": ["a@example.com"]} | input))

    assert payload["invitations"] == []
    assert errors(payload) == [(code, field)]
    assert await Invitation.all().count() == 0


async def test_create_refuses_while_the_feature_is_off(gql: GraphQLClient, token: str) -> None:
    await set_settings(enabled=False)

    payload = await create(gql, token, emails=["a@example.com"])

    assert errors(payload) == [("INVITATIONS_DISABLED", None)]


async def test_create_inserts_many_in_bulk(gql: GraphQLClient, token: str) -> None:
    emails = [f"guest{i}@example.com" for i in range(1200)]

    payload = await create(gql, token, emails=emails)

    assert payload["userErrors"] == []
    assert len(payload["invitations"]) == 1200
    assert await InvitationStatusChange.all().count() == 1200


async def test_a_concurrent_admin_invitation_turns_into_already_invited(
    admin: AdminUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look-up misses the other admin's invitation; the partial unique index still holds."""
    await row("raced@example.com")

    async def nothing_open(*args: Any) -> set[str]:
        return set()

    monkeypatch.setattr(admin_invitations, "open_keys", nothing_open)
    store = await StoreView.get(code="default")

    outcome = await admin_invitations.create(
        admin=admin,
        emails=["ok@example.com", "raced@example.com"],
        message=None,
        store_view_id=str(store.id),
        invitee_group_id=None,
    )

    assert [i.email for i in outcome.invitations] == ["ok@example.com"]
    assert [(e.code, e.field) for e in outcome.errors] == [("ALREADY_INVITED", ("emails", 1))]


# ---------------------------------------------------------------- updateInvitation


async def update(gql: GraphQLClient, token: str, id: Any, **input: Any) -> dict[str, Any]:
    body = await gql(UPDATE, {"id": str(id), "input": input}, token=token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["updateInvitation"]
    return payload


async def test_update_changes_address_and_message_of_a_not_sent_one(
    gql: GraphQLClient, token: str
) -> None:
    invitation = await row(message="Old")

    payload = await update(gql, token, invitation.id, email=" New@EXAMPLE.com ", message="New")

    assert payload["userErrors"] == []
    assert payload["invitation"]["email"] == "New@example.com"
    assert payload["invitation"]["message"] == "New"
    stored = await Invitation.get(id=invitation.id)
    assert stored.email_key == "new@example.com"
    assert stored.code_nonce == invitation.code_nonce

    payload = await update(gql, token, invitation.id, message=None)
    assert payload["invitation"]["message"] is None
    assert payload["invitation"]["email"] == "New@example.com"


async def test_update_refusals(gql: GraphQLClient, token: str) -> None:
    await make_customer("member@example.com")
    await row("taken@example.com", inviter_id=(await make_customer("c@example.com")).id)
    invitation = await row()
    sent = await row("sent@example.com", status=InvitationStatus.SENT)
    sending = await row("busy@example.com", delivery=DeliveryState.SENDING)
    leased = await row(
        "leased@example.com", lease_id="l", lease_expires_at=utcnow() + timedelta(minutes=1)
    )
    expired = await row("old@example.com", expired=True)

    cases = [
        (invitation.id, {"email": "nope"}, "INVALID_EMAIL", ["input", "email"]),
        (invitation.id, {"email": "member@example.com"}, "CUSTOMER_EXISTS", ["input", "email"]),
        (invitation.id, {"email": "TAKEN@example.com"}, "ALREADY_INVITED", ["input", "email"]),
        (invitation.id, {"message": "x" * 2001}, "MESSAGE_TOO_LONG", ["input", "message"]),
        (invitation.id, {}, "INVALID_INPUT", ["input"]),
        (sent.id, {"message": "Hi"}, "INVALID_STATUS", ["id"]),
        (sending.id, {"message": "Hi"}, "INVALID_STATUS", ["id"]),
        (leased.id, {"message": "Hi"}, "INVALID_STATUS", ["id"]),
        (expired.id, {"message": "Hi"}, "INVALID_STATUS", ["id"]),
        (424242, {"message": "Hi"}, "NOT_FOUND", ["id"]),
        ("abc", {"message": "Hi"}, "NOT_FOUND", ["id"]),
    ]
    for id, input, code, field in cases:
        payload = await update(gql, token, id, **input)
        assert payload["invitation"] is None
        assert errors(payload) == [(code, field)], (id, input)


async def test_update_may_fix_a_failed_address(gql: GraphQLClient, token: str) -> None:
    invitation = await row("typo@exmaple.com", delivery=DeliveryState.FAILED)

    payload = await update(gql, token, invitation.id, email="typo@example.com")

    assert payload["invitation"]["email"] == "typo@example.com"


# ---------------------------------------------------------------- discardInvitations


async def test_discard_reports_every_skipped_id(gql: GraphQLClient, token: str) -> None:
    not_sent = await row("a@example.com")
    sent = await row("b@example.com", status=InvitationStatus.SENT)
    accepted = await row("c@example.com", status=InvitationStatus.ACCEPTED)
    canceled = await row("d@example.com", status=InvitationStatus.CANCELED)
    expired = await row("e@example.com", status=InvitationStatus.SENT, expired=True)
    ids = [not_sent.id, sent.id, accepted.id, canceled.id, expired.id, "abc", 9999, sent.id]

    body = await gql(DISCARD, {"ids": [str(i) for i in ids]}, token=token)

    payload = body["data"]["discardInvitations"]
    assert payload["discardedCount"] == 2
    assert [(i["id"], i["status"]) for i in payload["invitations"]] == [
        (str(not_sent.id), "CANCELED"),
        (str(sent.id), "CANCELED"),
    ]
    assert payload["invitations"][0]["history"][0] == {"status": "CANCELED", "actor": "admin:root"}
    assert errors(payload) == [
        ("INVALID_STATUS", ["ids", "2"]),
        ("INVALID_STATUS", ["ids", "3"]),
        ("INVALID_STATUS", ["ids", "4"]),
        ("NOT_FOUND", ["ids", "5"]),
        ("NOT_FOUND", ["ids", "6"]),
        ("DUPLICATE_INPUT", ["ids", "7"]),
    ]
    assert (await Invitation.get(id=accepted.id)).status is InvitationStatus.ACCEPTED


@pytest.mark.parametrize("document", [DISCARD, RESEND])
async def test_at_most_1000_ids(gql: GraphQLClient, token: str, document: str) -> None:
    body = await gql(document, {"ids": [str(i) for i in range(1, 1002)]}, token=token)

    payload = next(iter(body["data"].values()))
    assert payload["invitations"] == []
    assert errors(payload) == [("INVALID_INPUT", ["ids"])]


# ---------------------------------------------------------------- resendInvitations


async def test_resend_starts_a_new_send_of_each_resendable_one(
    gql: GraphQLClient, token: str
) -> None:
    await set_settings(lifetime_days=5)
    delivered = await row(
        "a@example.com",
        status=InvitationStatus.SENT,
        delivery=DeliveryState.DELIVERED,
        message_id="<old@x>",
        attempts=2,
        sent_at=utcnow(),
    )
    canceled = await row("b@example.com", status=InvitationStatus.CANCELED)
    expired = await row("c@example.com", status=InvitationStatus.EXPIRED)
    lapsed = await row("d@example.com", status=InvitationStatus.SENT, expired=True)
    failed = await row("e@example.com", delivery=DeliveryState.FAILED, last_error="550")
    unknown = await row(
        "f@example.com", status=InvitationStatus.SENT, delivery=DeliveryState.UNKNOWN
    )
    ids = [delivered, canceled, expired, lapsed, failed, unknown]

    body = await gql(RESEND, {"ids": [str(i.id) for i in ids]}, token=token)

    payload = body["data"]["resendInvitations"]
    assert payload["userErrors"] == []
    assert payload["queuedCount"] == 6
    assert [i["status"] for i in payload["invitations"]] == [
        "SENT",
        "NOT_SENT",
        "NOT_SENT",
        "NOT_SENT",
        "NOT_SENT",
        "SENT",
    ]
    for node in payload["invitations"]:
        assert node["delivery"] == {"state": "QUEUED", "attempts": 0, "messageId": None}
    reopened = payload["invitations"][1]
    assert reopened["history"][0] == {"status": "NOT_SENT", "actor": "admin:root"}
    assert payload["invitations"][0]["history"] == []  # no change of status
    stored = {i.id: i for i in await Invitation.all()}
    for before in ids:
        after = stored[before.id]
        assert after.send_number == before.send_number + 1
        assert after.code_nonce == before.code_nonce
        assert after.last_error is None
        assert after.next_attempt_at is None
        assert after.expires_at is not None
        assert after.expires_at - utcnow() > timedelta(days=4)


async def test_resend_reports_every_skipped_id(gql: GraphQLClient, token: str) -> None:
    await make_customer("member@example.com")
    await make_customer("queued.member@example.com")
    accepted = await row("a@example.com", status=InvitationStatus.ACCEPTED)
    queued = await row("b@example.com")
    sending = await row(
        "c@example.com", status=InvitationStatus.SENT, delivery=DeliveryState.SENDING
    )
    resend_queued = await row("d@example.com", status=InvitationStatus.SENT)
    became_customer = await row(
        "Member@example.com", status=InvitationStatus.SENT, delivery=DeliveryState.DELIVERED
    )
    await row("twice@example.com")
    reinvited = await row(
        "twice@example.com",
        status=InvitationStatus.CANCELED,
        inviter_id=(await make_customer("c@example.com")).id,
    )
    ids = [
        accepted.id,
        queued.id,
        sending.id,
        resend_queued.id,
        became_customer.id,
        reinvited.id,
        "x",
        777,
        accepted.id,
        (await row("queued.member@example.com")).id,
    ]

    body = await gql(RESEND, {"ids": [str(i) for i in ids]}, token=token)

    payload = body["data"]["resendInvitations"]
    assert payload["queuedCount"] == 0
    assert errors(payload) == [
        ("INVALID_STATUS", ["ids", "0"]),
        ("INVALID_STATUS", ["ids", "1"]),
        ("INVALID_STATUS", ["ids", "2"]),
        ("INVALID_STATUS", ["ids", "3"]),
        ("CUSTOMER_EXISTS", ["ids", "4"]),
        ("ALREADY_INVITED", ["ids", "5"]),
        ("NOT_FOUND", ["ids", "6"]),
        ("NOT_FOUND", ["ids", "7"]),
        ("DUPLICATE_INPUT", ["ids", "8"]),
        ("CUSTOMER_EXISTS", ["ids", "9"]),
    ]
    assert payload["invitations"] == []
    assert {i.status for i in await Invitation.filter(email_key__startswith="queued.member")} == {
        InvitationStatus.CANCELED
    }
    discarded = await Invitation.get(id=became_customer.id)
    assert discarded.status is InvitationStatus.CANCELED
    assert await InvitationStatusChange.filter(
        invitation_id=discarded.id, status=InvitationStatus.CANCELED, actor="admin:root"
    ).exists()
    assert (await Invitation.get(id=reinvited.id)).status is InvitationStatus.CANCELED


async def test_create_stores_an_idna_domain_as_sent_and_refuses_a_non_ascii_local_part(
    gql: GraphQLClient, token: str
) -> None:
    payload = await create(
        gql,
        token,
        emails=["puny@xn--bcher-kva.example", "uni@Bücher.example", "vän@example.com", "😀@x.io"],
    )

    assert [i["email"] for i in payload["invitations"]] == [
        "puny@xn--bcher-kva.example",
        "uni@xn--bcher-kva.example",
    ]
    assert errors(payload) == [
        ("INVALID_EMAIL", ["input", "emails", "2"]),
        ("INVALID_EMAIL", ["input", "emails", "3"]),
    ]
    assert all("SMTPUTF8" in e["message"] for e in payload["userErrors"])
    assert await Invitation.filter(email__contains="ü").count() == 0
