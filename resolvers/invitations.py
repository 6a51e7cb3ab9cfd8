"""The storefront's invitations: settings, sending, the inviter's list, canceling, previews."""

from __future__ import annotations

import strawberry

from domain import invitation_settings, invitations
from domain.errors import DomainError
from models.invitation import InvitationStatus
from schema.context import Info
from schema.errors import INVITATION_ID, UserError
from schema.invitation import (
    CancelInvitationPayload,
    Invitation,
    InvitationConnection,
    InvitationPreview,
    SendInvitationsInput,
    SendInvitationsPayload,
    StorefrontInvitationSettings,
    invitation_connection,
)
from schema.pagination import decode_datetime_cursor, page_size
from schema.rate_limits import Action

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


async def storefront_invitation_settings(info: Info) -> StorefrontInvitationSettings:
    settings = await invitation_settings.for_store_view(info.context.require_store())
    return StorefrontInvitationSettings.from_settings(settings)


async def send_invitations(info: Info, input: SendInvitationsInput) -> SendInvitationsPayload:
    ctx = info.context
    inviter = ctx.require_customer()
    await ctx.limit(Action.SEND_INVITATIONS, account=f"customer:{inviter.id}")
    try:
        outcome = await invitations.send(
            inviter=inviter,
            store=ctx.require_store(),
            emails=input.emails,
            message=input.message,
        )
    except DomainError as error:
        return SendInvitationsPayload(invitations=[], user_errors=[UserError.from_domain(error)])
    return SendInvitationsPayload.from_outcome(outcome)


async def my_invitations(
    info: Info,
    first: int | None = DEFAULT_PAGE_SIZE,
    after: str | None = None,
    status: list[InvitationStatus] | None = None,
) -> InvitationConnection:
    page = await invitations.sent_by(
        inviter=info.context.require_customer(),
        first=page_size(DEFAULT_PAGE_SIZE if first is None else first, maximum=MAX_PAGE_SIZE),
        after=decode_datetime_cursor(after) if after is not None else None,
        statuses=status,
    )
    return invitation_connection(page)


async def cancel_invitation(info: Info, id: strawberry.ID) -> CancelInvitationPayload:
    try:
        row = await invitations.cancel(customer=info.context.require_customer(), invitation_id=id)
    except DomainError as error:
        error_at = UserError.from_domain(error, arguments=INVITATION_ID)
        return CancelInvitationPayload(invitation=None, user_errors=[error_at])
    return CancelInvitationPayload(invitation=Invitation.from_model(row), user_errors=[])


async def invitation_by_code(info: Info, code: str) -> InvitationPreview | None:
    ctx = info.context
    await ctx.limit(Action.CODE_LOOKUP)
    row = await invitations.by_code(code, secret=ctx.settings.secret_key)
    if row is None:
        return None
    return InvitationPreview.from_model(row, website_id=ctx.require_store().website_id)
