"""Publishing after a write: a broker or NOTIFY that fails never fails the write."""

from __future__ import annotations

import logging

import pytest

import events
from events import postgres
from models.invitation import Invitation
from tests.helpers import GraphQLClient, customer_token, make_customer

SEND = """
mutation Send($emails: [String!]!) {
  sendInvitations(input: {emails: $emails}) { invitations { email } userErrors { code } }
}
"""


async def test_a_failing_publish_is_logged_and_the_write_stands(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise ConnectionError("the broker is gone")

    async def broken_notify(*args: object) -> None:
        broken()

    monkeypatch.setattr(events.BROKER, "deliver", broken)
    monkeypatch.setattr(postgres, "notify", broken_notify)
    token = await customer_token(await make_customer("alice@example.com"))

    with caplog.at_level(logging.ERROR, logger="invitations.events"):
        body = await gql(SEND, {"emails": ["friend@example.com"]}, token=token)

    assert body["data"]["sendInvitations"]["invitations"] == [{"email": "friend@example.com"}]
    assert await Invitation.filter(email="friend@example.com").exists()
    assert "could not publish 1 invitation changes" in caplog.text
