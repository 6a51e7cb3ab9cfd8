"""The admin's invitations (permission INVITATIONS): the grid, one invitation, and the mutations.

The grid and the detail have no userErrors: a bad argument is a top-level BAD_REQUEST whose
extensions carry its path (`field`) and reason code.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain import admin_batch, admin_invitations, grid
from domain.clock import utcnow
from domain.errors import DomainError
from schema.admin_invitation import (
    CreateInvitationsInput,
    CreateInvitationsPayload,
    DiscardInvitationsPayload,
    ResendInvitationsPayload,
    UpdateInvitationInput,
    UpdateInvitationPayload,
)
from schema.context import Info
from schema.errors import INVITATION_ID, RANGE_NAMES, BadRequest, UserError
from schema.grid import InvitationFilter, InvitationSort, decode_grid_cursor
from schema.invitation import (
    Invitation,
    InvitationConnection,
    invitation_connection,
    selected_relations,
)
from schema.pagination import page_size

DEFAULT_PAGE_SIZE = 20


async def invitations(
    info: Info,
    filter: Annotated[
        InvitationFilter | None, strawberry.argument(description="Which invitations.")
    ] = None,
    sort: Annotated[
        InvitationSort | None, strawberry.argument(description="The order; default: newest id.")
    ] = None,
    first: Annotated[int | None, strawberry.argument(description="Page size, 1 to 200.")] = 20,
    after: Annotated[
        str | None, strawberry.argument(description="The endCursor of the previous page.")
    ] = None,
) -> InvitationConnection:
    order = sort or InvitationSort()
    try:
        page = await grid.grid_page(
            where=(filter.to_model() if filter else grid.GridFilter()),
            sort=order.field,
            reverse=order.reverse,
            first=page_size(DEFAULT_PAGE_SIZE if first is None else first, maximum=200),
            after=decode_grid_cursor(after, order.field) if after is not None else None,
            now=utcnow(),
        )
    except DomainError as error:
        raise BadRequest.from_domain(error, names=RANGE_NAMES) from None
    # The relations the operation selects, loaded with the page: a query per table, and no
    # DataLoader call per row and field.
    related = await grid.page_relations(page.rows, selected_relations(info))
    info.context.loaders.prime(related)
    return invitation_connection(page, related)


async def invitation(info: Info, id: strawberry.ID) -> Invitation | None:
    try:
        row = await admin_invitations.find(id)
    except DomainError as error:
        raise BadRequest.from_domain(error, names=INVITATION_ID) from None
    return Invitation.from_model(row) if row is not None else None


async def create_invitations(info: Info, input: CreateInvitationsInput) -> CreateInvitationsPayload:
    try:
        outcome = await admin_invitations.create(
            admin=info.context.require_admin(),
            emails=input.emails,
            message=input.message,
            store_view_id=input.store_view_id,
            invitee_group_id=input.invitee_group_id,
        )
    except DomainError as error:
        return CreateInvitationsPayload(invitations=[], user_errors=[UserError.from_domain(error)])
    return CreateInvitationsPayload.from_outcome(outcome)


async def update_invitation(
    info: Info, id: strawberry.ID, input: UpdateInvitationInput
) -> UpdateInvitationPayload:
    try:
        row = await admin_invitations.update(
            admin=info.context.require_admin(),
            invitation_id=id,
            email=input.email,
            message=input.message or None,
            change_message=input.message is not strawberry.UNSET,
        )
    except DomainError as error:
        error_at = UserError.from_domain(error, arguments=INVITATION_ID)
        return UpdateInvitationPayload(invitation=None, user_errors=[error_at])
    return UpdateInvitationPayload(invitation=Invitation.from_model(row), user_errors=[])


async def discard_invitations(info: Info, ids: list[strawberry.ID]) -> DiscardInvitationsPayload:
    try:
        outcome = await admin_batch.discard(admin=info.context.require_admin(), ids=ids)
    except DomainError as error:
        outcome = admin_invitations.Outcome(invitations=[], errors=[error])
    return DiscardInvitationsPayload.from_outcome(outcome)


async def resend_invitations(info: Info, ids: list[strawberry.ID]) -> ResendInvitationsPayload:
    try:
        outcome = await admin_batch.resend(admin=info.context.require_admin(), ids=ids)
    except DomainError as error:
        outcome = admin_invitations.Outcome(invitations=[], errors=[error])
    return ResendInvitationsPayload.from_outcome(outcome)
