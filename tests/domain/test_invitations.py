"""Invitation rules at the domain level: the race the HTTP tests cannot pin down, and links."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import codes, ids, invitations
from domain.clock import utcnow
from domain.errors import AlreadyInvited
from models.invitation import Invitation, InvitationStatus
from tests.helpers import TEST_SECRET, make_customer, store_view
from tests.invitation_factories import make_invitation


async def test_an_address_invited_between_the_check_and_the_insert_is_already_invited() -> None:
    inviter = await make_customer("alice@example.com")
    plan = await invitations.plan_send(
        inviter=inviter,
        store=await store_view(),
        emails=["race@example.com", "calm@example.com"],
        message=None,
    )
    await make_invitation(inviter, "Race@example.com")  # a concurrent request wins the address

    outcome = await invitations.create_planned(plan)

    assert [row.email for row in outcome.invitations] == ["calm@example.com"]
    assert [(type(e), e.field) for e in outcome.errors] == [(AlreadyInvited, ("emails", 0))]
    assert await Invitation.filter(inviter_id=inviter.id).count() == 2


async def test_the_link_carries_the_code_while_the_invitation_is_open() -> None:
    inviter = await make_customer("alice@example.com")
    store = await store_view("sv")
    open_one = await make_invitation(inviter, "a@example.com", store=store)
    expired = await make_invitation(
        inviter, "b@example.com", expires_at=utcnow() - timedelta(seconds=1)
    )
    canceled = await make_invitation(inviter, "c@example.com", status=InvitationStatus.CANCELED)

    link = invitations.link(open_one, store, secret=TEST_SECRET)

    assert link is not None
    assert link.startswith("http://localhost:3000/sv/customer/account/create/?invitation=")
    assert codes.nonce_of(link.rsplit("=", 1)[1], secret=TEST_SECRET) == open_one.code_nonce
    assert invitations.link(open_one, store, secret=TEST_SECRET) == link
    assert invitations.link(expired, store, secret=TEST_SECRET) is None
    assert invitations.link(canceled, store, secret=TEST_SECRET) is None


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("1", 1), (" 42 ", 42), ("2147483647", 2147483647), ("2147483648", None), ("0", None),
     ("-3", None), ("+3", None), ("\u0663", None), ("", None), ("1" * 50, None)],
)  # fmt: skip
def test_parse_id(raw: str, parsed: int | None) -> None:
    assert ids.id_or_none(raw) == parsed


def test_expiry_follows_the_lifetime_and_stays_on_the_calendar() -> None:
    now = utcnow()

    assert invitations.expiry(now, None) is None
    assert invitations.expiry(now, 7) == now + timedelta(days=7)
    assert invitations.expiry(now, 10**9) == now + timedelta(days=invitations.MAX_LIFETIME_DAYS)
