"""Invitation codes over HTTP: the registration page's preview and registering through a code."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from config import Settings
from domain import invitation_settings as s
from domain.clock import utcnow
from models.accounts import Customer
from models.invitation import Invitation, InvitationStatus, InvitationStatusChange, Referral
from models.store import CustomerGroup, StoreView, Website
from tests.helpers import PASSWORD, GraphQLClient, customer_token, error_codes, make_customer
from tests.invitation_factories import code_of, make_invitation, set_settings

BY_CODE = """
query Preview($code: String!) {
  invitationByCode(code: $code) {
    email storeView { code } inviterFirstname acceptable status
  }
}
"""

CREATE_CUSTOMER = """
mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id email group { code } }
    customerToken { token }
    userErrors { code field message }
  }
}
"""


def registration(email: str = "friend@example.com", code: str | None = None) -> dict[str, Any]:
    return {
        "input": {
            "email": email,
            "firstname": "Fred",
            "lastname": "Friend",
            "password": PASSWORD,
            "invitationCode": code,
        }
    }


async def invited(**kwargs: Any) -> tuple[Customer, Invitation]:
    inviter = await make_customer("alice@example.com", group_code="Wholesale")
    return inviter, await make_invitation(inviter, "friend@example.com", **kwargs)


def refusal(body: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    payload = body["data"]["createCustomer"]
    assert payload["customer"] is None
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


# ---------------------------------------------------------------- invitationByCode


async def test_preview_of_a_valid_code(gql: GraphQLClient) -> None:
    _, invitation = await invited()

    body = await gql(BY_CODE, {"code": code_of(invitation)})

    assert body["data"]["invitationByCode"] == {
        "email": "friend@example.com",
        "storeView": {"code": "default"},
        "inviterFirstname": "Alice",
        "acceptable": True,
        "status": "NOT_SENT",
    }


@pytest.mark.parametrize(
    ("status", "expires_in", "shown"),
    [
        (InvitationStatus.CANCELED, None, "CANCELED"),
        (InvitationStatus.ACCEPTED, None, "ACCEPTED"),
        (InvitationStatus.SENT, timedelta(seconds=-1), "EXPIRED"),
    ],
)
async def test_preview_of_a_closed_invitation_is_not_acceptable(
    gql: GraphQLClient, status: InvitationStatus, expires_in: timedelta | None, shown: str
) -> None:
    expires_at = utcnow() + expires_in if expires_in is not None else None
    _, invitation = await invited(status=status, expires_at=expires_at)

    body = await gql(BY_CODE, {"code": code_of(invitation)})

    preview = body["data"]["invitationByCode"]
    assert (preview["acceptable"], preview["status"]) == (False, shown)


async def test_bad_codes_give_null(gql: GraphQLClient) -> None:
    _, invitation = await invited()
    code = code_of(invitation)
    tampered = code[:-2] + ("A" if code[-2] != "A" else "B") + code[-1]
    await Invitation.filter(id=invitation.id).delete()

    for bad in (code, tampered, "", "x" * 10_000, "' OR 1=1 --", "\u202e" * 43):
        body = await gql(BY_CODE, {"code": bad})
        assert body == {"data": {"invitationByCode": None}}


async def test_code_lookups_are_rate_limited_per_client_address(
    gql: GraphQLClient, settings: Settings
) -> None:
    _, invitation = await invited()

    for _ in range(settings.rate_limit_code_lookup_per_address):
        assert "errors" not in await gql(BY_CODE, {"code": "guess"})
    limited = await gql(BY_CODE, {"code": code_of(invitation)})

    assert error_codes(limited) == ["RATE_LIMITED"]
    assert limited["data"] == {"invitationByCode": None}


# ---------------------------------------------------------------- createCustomer with a code


async def test_registering_through_a_code_accepts_the_invitation(gql: GraphQLClient) -> None:
    inviter, invitation = await invited(
        invitee_group_id=(await CustomerGroup.get(code="Retailer")).id
    )

    body = await gql(CREATE_CUSTOMER, registration("FRIEND@Example.com", code_of(invitation)))

    payload = body["data"]["createCustomer"]
    assert payload["userErrors"] == []
    assert payload["customer"]["group"] == {"code": "Retailer"}
    assert payload["customerToken"]["token"]
    customer_id = int(payload["customer"]["id"])
    row = await Invitation.get(id=invitation.id)
    assert row.status is InvitationStatus.ACCEPTED
    assert row.accepted_at is not None
    assert row.invitee_id == customer_id
    referral = await Referral.get(invitation_id=invitation.id)
    assert (referral.inviter_id, referral.invitee_id) == (inviter.id, customer_id)
    last = await InvitationStatusChange.filter(invitation_id=invitation.id).order_by("-id").first()
    assert last is not None
    assert (last.status, last.actor) == (InvitationStatus.ACCEPTED, f"customer:{customer_id}")


async def test_an_invitation_without_group_gives_the_website_default(gql: GraphQLClient) -> None:
    _, invitation = await invited()

    body = await gql(CREATE_CUSTOMER, registration(code=code_of(invitation)))

    assert body["data"]["createCustomer"]["customer"]["group"] == {"code": "General"}


async def test_an_invitation_sent_through_sendinvitations_can_be_accepted(
    gql: GraphQLClient,
) -> None:
    inviter = await make_customer("alice@example.com", group_code="Wholesale")
    await gql(
        'mutation { sendInvitations(input: {emails: ["friend@example.com"]}) '
        "{ userErrors { code } } }",
        token=await customer_token(inviter),
    )
    invitation = await Invitation.get(inviter_id=inviter.id)

    body = await gql(CREATE_CUSTOMER, registration(code=code_of(invitation)), store="sv")

    assert body["data"]["createCustomer"]["customer"]["group"] == {"code": "Wholesale"}


@pytest.mark.parametrize(
    ("status", "expires_in", "code", "field"),
    [
        (InvitationStatus.CANCELED, None, "INVITATION_NOT_VALID", ["input", "invitationCode"]),
        (InvitationStatus.ACCEPTED, None, "INVITATION_NOT_VALID", ["input", "invitationCode"]),
        (InvitationStatus.EXPIRED, None, "INVITATION_EXPIRED", ["input", "invitationCode"]),
        (
            InvitationStatus.NOT_SENT,
            timedelta(seconds=-1),
            "INVITATION_EXPIRED",
            ["input", "invitationCode"],
        ),
    ],
)
async def test_closed_invitations_cannot_be_accepted(
    gql: GraphQLClient,
    status: InvitationStatus,
    expires_in: timedelta | None,
    code: str,
    field: list[str],
) -> None:
    expires_at = utcnow() + expires_in if expires_in is not None else None
    _, invitation = await invited(status=status, expires_at=expires_at)

    body = await gql(CREATE_CUSTOMER, registration(code=code_of(invitation)))

    assert refusal(body) == [(code, field)]
    assert not await Customer.filter(email="friend@example.com").exists()


@pytest.mark.parametrize("bad", ["made-up", "", "x" * 5000, "\x00" * 43])
async def test_bad_codes_are_not_valid(gql: GraphQLClient, bad: str) -> None:
    body = await gql(CREATE_CUSTOMER, registration(code=bad))

    assert refusal(body) == [("INVITATION_NOT_VALID", ["input", "invitationCode"])]
    assert await Customer.all().count() == 0


async def test_someone_else_cannot_accept_with_another_address(gql: GraphQLClient) -> None:
    _, invitation = await invited()

    body = await gql(CREATE_CUSTOMER, registration("mallory@example.com", code_of(invitation)))

    assert refusal(body) == [("EMAIL_MISMATCH", ["input", "email"])]
    assert (await Invitation.get(id=invitation.id)).status is InvitationStatus.NOT_SENT
    assert not await Customer.filter(email="mallory@example.com").exists()


async def test_a_code_is_valid_only_on_its_own_website(gql: GraphQLClient) -> None:
    _, invitation = await invited()
    other = await Website.create(
        code="outlet", name="Outlet", default_group_id=(await CustomerGroup.get(code="General")).id
    )
    await StoreView.create(
        code="outlet", name="Outlet", website_id=other.id, base_url="http://outlet.test/"
    )

    body = await gql(CREATE_CUSTOMER, registration(code=code_of(invitation)), store="outlet")
    preview = await gql(BY_CODE, {"code": code_of(invitation)}, store="outlet")

    assert refusal(body) == [("INVITATION_NOT_VALID", ["input", "invitationCode"])]
    assert preview["data"]["invitationByCode"]["acceptable"] is False


async def test_an_address_that_is_already_a_customer_cannot_accept(gql: GraphQLClient) -> None:
    _, invitation = await invited()
    await make_customer("friend@example.com")

    body = await gql(CREATE_CUSTOMER, registration(code=code_of(invitation)))

    assert refusal(body) == [("CUSTOMER_EXISTS", ["input", "email"])]
    assert (await Invitation.get(id=invitation.id)).status is InvitationStatus.NOT_SENT


async def test_by_invitation_only_refuses_registration_without_a_code(gql: GraphQLClient) -> None:
    await set_settings(registration_mode=s.RegistrationMode.BY_INVITATION_ONLY)
    _, invitation = await invited()

    without = await gql(CREATE_CUSTOMER, registration("walk-in@example.com"))
    with_code = await gql(CREATE_CUSTOMER, registration(code=code_of(invitation)))

    assert refusal(without) == [("REGISTRATION_BY_INVITATION_ONLY", ["input", "invitationCode"])]
    assert with_code["data"]["createCustomer"]["userErrors"] == []


async def test_eight_concurrent_registrations_with_one_code_make_one_customer(
    gql: GraphQLClient,
) -> None:
    _, invitation = await invited()
    code = code_of(invitation)

    bodies = await asyncio.gather(
        *(gql(CREATE_CUSTOMER, registration(code=code)) for _ in range(8))
    )

    payloads = [b["data"]["createCustomer"] for b in bodies]
    winners = [p for p in payloads if p["customer"] is not None]
    losers = [e["code"] for p in payloads for e in p["userErrors"]]
    assert len(winners) == 1
    assert len(losers) == 7
    assert set(losers) <= {"INVITATION_NOT_VALID", "CUSTOMER_EXISTS"}
    assert await Customer.filter(email_key="friend@example.com").count() == 1
    assert await Referral.all().count() == 1
    accepted = InvitationStatusChange.filter(status=InvitationStatus.ACCEPTED)
    assert await accepted.count() == 1
    row = await Invitation.get(id=invitation.id)
    assert row.invitee_id == int(winners[0]["customer"]["id"])


async def test_a_customer_invites_only_from_a_store_view_of_their_website(
    gql: GraphQLClient,
) -> None:
    alice = await make_customer("alice@example.com")
    other = await Website.create(
        code="outlet", name="Outlet", default_group_id=(await CustomerGroup.get(code="General")).id
    )
    await StoreView.create(
        code="outlet", name="Outlet", website_id=other.id, base_url="http://outlet.test/"
    )

    body = await gql(
        'mutation { sendInvitations(input: {emails: ["x@example.com"]}) '
        "{ invitations { id } userErrors { code field } } }",
        token=await customer_token(alice),
        store="outlet",
    )

    assert body["data"]["sendInvitations"] == {
        "invitations": [],
        "userErrors": [{"code": "INVITATIONS_DISABLED", "field": None}],
    }


async def test_the_storefront_journey_of_the_readme(gql: GraphQLClient) -> None:
    register = await gql(
        'mutation { createCustomer(input: {email: "ann@example.com", firstname: "Ann", '
        'lastname: "Lee", password: "Secret-pass-1"}) { customer { id } userErrors { code } } }'
    )
    sign_in = await gql(
        'mutation { generateCustomerToken(email: "ann@example.com", password: "Secret-pass-1") '
        "{ customerToken { token } userErrors { code } } }"
    )
    token = sign_in["data"]["generateCustomerToken"]["customerToken"]["token"]
    sent = await gql(
        'mutation { sendInvitations(input: {emails: ["bo@example.com", "not-an-address"], '
        'message: "Join me!"}) { invitations { id email status } userErrors { code field } } }',
        token=token,
    )
    listed = await gql(
        "{ myInvitations(first: 20, status: [NOT_SENT, SENT]) { totalCount nodes { email } } }",
        token=token,
    )
    code = code_of(await Invitation.get(email="bo@example.com"))
    preview = await gql(BY_CODE, {"code": code})
    invitee = await gql(
        CREATE_CUSTOMER,
        {
            "input": {
                "email": "bo@example.com",
                "firstname": "Bo",
                "lastname": "Ek",
                "password": "Secret-pass-2",
                "invitationCode": code,
            }
        },
    )

    assert register["data"]["createCustomer"]["userErrors"] == []
    assert sent["data"]["sendInvitations"]["userErrors"] == [
        {"code": "INVALID_EMAIL", "field": ["input", "emails", "1"]}
    ]
    assert listed["data"]["myInvitations"] == {
        "totalCount": 1,
        "nodes": [{"email": "bo@example.com"}],
    }
    assert preview["data"]["invitationByCode"]["inviterFirstname"] == "Ann"
    assert invitee["data"]["createCustomer"]["customer"]["group"] == {"code": "General"}
    after = await gql("{ myInvitations { nodes { status } } }", token=token)
    assert after["data"]["myInvitations"]["nodes"] == [{"status": "ACCEPTED"}]
