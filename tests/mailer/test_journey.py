"""The whole journey across the pieces: invite over HTTP, the mailer delivers to a real SMTP
server, the invitee follows the link from the e-mail and registers."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from mailer.worker import Mailer
from models.invitation import DeliveryState, Invitation, InvitationStatus
from tests.helpers import PASSWORD, GraphQLClient, customer_token, make_customer
from tests.mailer.conftest import SmtpServer, drain

SEND = """
mutation Send($input: SendInvitationsInput!) {
  sendInvitations(input: $input) { invitations { id status } userErrors { code field } }
}
"""
MINE = "{ myInvitations { nodes { email status sentAt acceptedAt } } }"
PREVIEW = """
query Preview($code: String!) {
  invitationByCode(code: $code) { email acceptable status inviterFirstname }
}
"""
REGISTER = """
mutation Register($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { email group { code } } userErrors { code field } }
}
"""


async def test_invite_deliver_follow_the_link_and_register(
    gql: GraphQLClient, smtp: SmtpServer, mailer: Mailer
) -> None:
    alice = await make_customer("alice@example.com", group_code="Wholesale")
    token = await customer_token(alice)
    sent = await gql(
        SEND, {"input": {"emails": ["bob@example.com"], "message": "Hi <Bob>"}}, token=token
    )
    assert sent["data"]["sendInvitations"]["userErrors"] == []

    await drain(mailer)

    row = await Invitation.get(email="bob@example.com")
    assert (row.status, row.delivery_state) == (InvitationStatus.SENT, DeliveryState.DELIVERED)
    [email] = smtp.messages()
    assert email["To"] == "bob@example.com"
    assert "Alice" in email["Subject"]
    html = email.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Hi &lt;Bob&gt;" in html
    text = email.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"https?://\S+invitation=\S+", text)
    assert link is not None
    code = parse_qs(urlsplit(link.group(0)).query)["invitation"][0]

    preview = await gql(PREVIEW, {"code": code})
    registered = await gql(
        REGISTER,
        {
            "input": {
                "email": "Bob@Example.com",
                "firstname": "Bob",
                "lastname": "Invited",
                "password": PASSWORD,
                "invitationCode": code,
            }
        },
    )
    mine = await gql(MINE, token=token)

    assert preview["data"]["invitationByCode"] == {
        "email": "bob@example.com",
        "acceptable": True,
        "status": "SENT",
        "inviterFirstname": "Alice",
    }
    assert registered["data"]["createCustomer"]["userErrors"] == []
    assert registered["data"]["createCustomer"]["customer"]["group"] == {"code": "Wholesale"}
    [listed] = mine["data"]["myInvitations"]["nodes"]
    assert listed["status"] == "ACCEPTED"
    assert listed["sentAt"] is not None
    assert listed["acceptedAt"] is not None
