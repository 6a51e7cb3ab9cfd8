"""Factories of invitations and helpers around their codes and settings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from domain import codes
from domain import invitation_settings as s
from domain.clock import utcnow
from domain.validation import email_key
from models.accounts import Customer
from models.invitation import Invitation, InvitationStatus, InvitationStatusChange
from models.store import StoreView
from tests.helpers import TEST_SECRET, store_view


async def make_invitation(
    inviter: Customer | None,
    email: str = "friend@example.com",
    *,
    status: InvitationStatus = InvitationStatus.NOT_SENT,
    created_at: datetime | None = None,
    expires_at: datetime | None = None,
    store: StoreView | None = None,
    invitee_group_id: int | None = None,
) -> Invitation:
    store = store or await store_view()
    now = created_at or utcnow()
    invitation = await Invitation.create(
        email=email,
        email_key=email_key(email),
        status=status,
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
        store_view_id=store.id,
        website_id=store.website_id,
        invitee_group_id=invitee_group_id,
        inviter_id=inviter.id if inviter is not None else None,
        code_nonce=codes.new_nonce(),
    )
    await InvitationStatusChange.create(
        invitation_id=invitation.id, status=status, at=now, actor="system"
    )
    return invitation


def code_of(invitation: Invitation) -> str:
    return codes.code_for(invitation.code_nonce, secret=TEST_SECRET)


async def set_settings(**values: Any) -> None:
    """Write invitation settings at the default scope."""
    await s.write(s.DEFAULT_SCOPE, values)


async def age(invitation: Invitation, by: timedelta) -> None:
    """Move an invitation's creation (and expiry, if any) back in time."""
    invitation = await Invitation.get(id=invitation.id)
    updates: dict[str, Any] = {"created_at": invitation.created_at - by}
    if invitation.expires_at is not None:
        updates["expires_at"] = invitation.expires_at - by
    await Invitation.filter(id=invitation.id).update(**updates)
