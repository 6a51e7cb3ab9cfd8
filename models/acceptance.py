"""Accepting an invitation: registering the invitee, atomically.

One transaction first flips the invitation to ACCEPTED with a conditional UPDATE (on PostgreSQL
this also locks the row until commit), and only then inserts the customer, the referral and the
history row. Of several concurrent registrations with one code exactly one sees a changed row; the
others roll back before they insert anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import events
from models.accounts import Customer
from models.clock import utcnow
from models.errors import CustomerExists, EmailMismatch, InvitationExpired, InvitationNotValid
from models.invitation import (
    OPEN_STATUSES,
    Invitation,
    InvitationStatus,
    InvitationStatusChange,
    Referral,
)
from models.invitations import by_code, customer_actor, effective_status, not_expired
from models.passwords import hash_password
from models.store import StoreView, Website
from models.validation import email_key

if TYPE_CHECKING:
    from models.customers import Registration

CODE_FIELD = ("input", "invitationCode")
EMAIL_FIELD = ("input", "email")


async def register_invitee(
    *,
    website: Website,
    store: StoreView,
    registration: Registration,
    code: str,
    password_profile: str,
    secret: str,
) -> Customer:
    """Register the invitee of the invitation `code` names (SPEC §4)."""
    invitation = await acceptable_invitation(code, website=website, secret=secret)
    if email_key(registration.email) != invitation.email_key:
        raise EmailMismatch().at(*EMAIL_FIELD)
    if await Customer.filter(website_id=website.id, email_key=invitation.email_key).exists():
        raise CustomerExists().at(*EMAIL_FIELD)
    # Hashing is slow: do it before the transaction, so no lock is held meanwhile.
    password_hash = await hash_password(registration.password, profile=password_profile)
    customer = registration.as_customer(
        website_id=website.id,
        group_id=invitation.invitee_group_id or website.default_group_id,
        password_hash=password_hash,
    )
    try:
        await accept(invitation, customer)
    except IntegrityError:
        raise CustomerExists().at(*EMAIL_FIELD) from None
    return customer


async def acceptable_invitation(code: str, *, website: Website, secret: str) -> Invitation:
    """The invitation of an authentic code that the website's registration may accept now."""
    invitation = await by_code(code, secret=secret)
    if invitation is None or invitation.website_id != website.id:
        raise InvitationNotValid().at(*CODE_FIELD)
    status = effective_status(invitation)
    if status is InvitationStatus.EXPIRED:
        raise InvitationExpired().at(*CODE_FIELD)
    if status not in OPEN_STATUSES:
        raise InvitationNotValid().at(*CODE_FIELD)
    return invitation


async def accept(invitation: Invitation, customer: Customer) -> None:
    """Flip the invitation to ACCEPTED, then insert the unsaved `customer` and the records.

    Raises InvitationNotValid, inserting nothing, when the invitation is no longer open.
    """
    now = utcnow()
    async with in_transaction():
        won = await Invitation.filter(
            not_expired(now), id=invitation.id, status__in=list(OPEN_STATUSES)
        ).update(status=InvitationStatus.ACCEPTED, accepted_at=now, updated_at=now)
        if not won:
            # Accepted, canceled or expired by someone else since we looked.
            raise InvitationNotValid().at(*CODE_FIELD)
        await customer.save()
        await Invitation.filter(id=invitation.id).update(invitee_id=customer.id)
        await Referral.create(
            inviter_id=invitation.inviter_id,
            invitee_id=customer.id,
            invitation_id=invitation.id,
            created_at=now,
        )
        await InvitationStatusChange.create(
            invitation_id=invitation.id,
            status=InvitationStatus.ACCEPTED,
            at=now,
            actor=customer_actor(customer.id),
        )
    await events.changed(invitation.id, invitation.inviter_id)
