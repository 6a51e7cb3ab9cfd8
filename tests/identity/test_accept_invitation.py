"""acceptInvitation for a customer signed in with the provider's JWT (SPEC §11)."""

from __future__ import annotations

import asyncio

from models.accounts import Customer
from models.invitation import Invitation, InvitationStatus, Referral
from models.store import CustomerGroup
from tests.helpers import GraphQLClient, customer_token, make_customer
from tests.identity.provider import Provider
from tests.invitation_factories import code_of, make_invitation

ME = "{ customer { id email group { code } } }"
ACCEPT = """
mutation($code: String!) {
  acceptInvitation(code: $code) {
    invitation { status }
    customer { id email group { code } }
    userErrors { code field message }
  }
}"""


async def _invitation(email: str = "jwt.customer@example.com") -> tuple[Invitation, str]:
    inviter = await make_customer(email="inviter@example.com")
    group = await CustomerGroup.exclude(code="general").first()
    assert group is not None
    invitation = await make_invitation(
        inviter, email, status=InvitationStatus.SENT, invitee_group_id=group.id
    )
    return invitation, group.code


async def test_the_invited_address_accepts_and_joins_the_invitee_group(
    client: GraphQLClient, provider: Provider
) -> None:
    invitation, group_code = await _invitation()
    token = provider.token()
    body = await client(ACCEPT, {"code": code_of(invitation)}, token=token)
    payload = body["data"]["acceptInvitation"]
    assert payload["userErrors"] == [], body
    assert payload["invitation"]["status"] == "ACCEPTED"
    assert payload["customer"]["group"]["code"] == group_code
    me = await client(ME, token=token)
    assert me["data"]["customer"]["group"]["code"] == group_code
    referral = await Referral.get(invitation_id=invitation.id)
    assert referral.invitee_id == int(me["data"]["customer"]["id"])


async def test_another_address_is_refused_and_nothing_changes(
    client: GraphQLClient, provider: Provider
) -> None:
    invitation, _ = await _invitation("someone.else@example.com")
    token = provider.token()
    body = await client(ACCEPT, {"code": code_of(invitation)}, token=token)
    payload = body["data"]["acceptInvitation"]
    assert [e["code"] for e in payload["userErrors"]] == ["EMAIL_MISMATCH"], body
    assert payload["userErrors"][0]["field"] == ["code"]
    assert (await Invitation.get(id=invitation.id)).status is InvitationStatus.SENT
    assert not await Referral.filter(invitation_id=invitation.id).exists()


async def test_an_unverified_email_is_refused(client: GraphQLClient, provider: Provider) -> None:
    invitation, _ = await _invitation()
    token = provider.token(email_verified=False)
    payload = (await client(ACCEPT, {"code": code_of(invitation)}, token=token))["data"][
        "acceptInvitation"
    ]
    assert [e["code"] for e in payload["userErrors"]] == ["EMAIL_MISMATCH"], payload
    assert "not verified" in payload["userErrors"][0]["message"]
    assert (await Invitation.get(id=invitation.id)).status is InvitationStatus.SENT


async def test_eight_concurrent_accepts_of_one_code_one_wins(
    client: GraphQLClient, provider: Provider
) -> None:
    invitation, _ = await _invitation()
    token = provider.token()
    assert (await client(ME, token=token))["data"]["customer"]  # first sight, before the race
    bodies = await asyncio.gather(
        *(client(ACCEPT, {"code": code_of(invitation)}, token=token) for _ in range(8))
    )
    payloads = [b["data"]["acceptInvitation"] for b in bodies]
    winners = [p for p in payloads if not p["userErrors"]]
    assert len(winners) == 1, payloads
    losers = [p["userErrors"][0]["code"] for p in payloads if p["userErrors"]]
    assert losers == ["INVITATION_NOT_VALID"] * 7, payloads
    assert await Referral.filter(invitation_id=invitation.id).count() == 1
    assert await Customer.filter(email_key="jwt.customer@example.com").count() == 1


async def test_a_built_in_customer_token_is_sent_to_create_customer(
    client: GraphQLClient,
) -> None:
    invitation, _ = await _invitation()
    customer = await make_customer(email="jwt.customer@example.com")
    body = await client(ACCEPT, {"code": code_of(invitation)}, token=await customer_token(customer))
    payload = body["data"]["acceptInvitation"]
    assert [e["code"] for e in payload["userErrors"]] == ["EMAIL_MISMATCH"], body
    assert "createCustomer" in payload["userErrors"][0]["message"]
    assert (await Invitation.get(id=invitation.id)).status is InvitationStatus.SENT
