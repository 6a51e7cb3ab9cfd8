"""Acceptance is decided by the conditional UPDATE, not by the look-up before it."""

from __future__ import annotations

import pytest

from domain import registration
from domain.errors import InvitationNotValid
from domain.registration import Registration
from models.accounts import Customer
from models.invitation import Invitation, InvitationStatus
from tests.helpers import PASSWORD, TEST_SECRET, default_website, make_customer
from tests.invitation_factories import code_of, make_invitation


async def test_a_registration_that_looked_before_another_accepted_inserts_nothing() -> None:
    inviter = await make_customer("alice@example.com")
    invitation = await make_invitation(inviter, "friend@example.com")
    website = await default_website()
    # Both registrations found the invitation open...
    stale = await registration.acceptable_invitation(
        code_of(invitation), website=website, secret=TEST_SECRET
    )
    winner = Registration.checked(
        email="friend@example.com", firstname="Fred", lastname="Friend", password=PASSWORD
    ).as_customer(website_id=website.id, group_id=website.default_group_id, password_hash="x")
    await registration.accept(stale, winner)
    loser = Customer(
        website_id=website.id,
        group_id=website.default_group_id,
        email="friend2@example.com",
        email_key="friend2@example.com",
        firstname="Late",
        lastname="Comer",
        password_hash="x",
        created_at=winner.created_at,
    )

    # ...but only the first conditional UPDATE changes a row.
    with pytest.raises(InvitationNotValid):
        await registration.accept(stale, loser)

    assert not await Customer.filter(email="friend2@example.com").exists()
    row = await Invitation.get(id=invitation.id)
    assert (row.status, row.invitee_id) == (InvitationStatus.ACCEPTED, winner.id)
