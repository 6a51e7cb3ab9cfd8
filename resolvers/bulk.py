"""Bulk operations (permission INVITATIONS): start, read, cancel, and follow the progress."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from domain import bulk
from domain.errors import DomainError
from models.accounts import Permission
from models.bulk import ACTIVE_STATUSES, BulkAction
from resolvers.subscriptions import require_still_allowed
from schema.bulk import (
    BulkOperation,
    BulkOperationConnection,
    CancelBulkOperationPayload,
    InvitationSelection,
    StartBulkOperationPayload,
    after_id,
)
from schema.context import Info
from schema.errors import RANGE_NAMES, BadRequest, UserError
from schema.pagination import page_size

# bulkOperationUpdates reads the operation at most this often: a few updates a second.
PROGRESS_SECONDS = 0.25
OPERATION_ID = {"id": "id"}


async def start_bulk_invitation_action(
    info: Info, action: BulkAction, selection: InvitationSelection
) -> StartBulkOperationPayload:
    try:
        operation = await bulk.start(
            admin=info.context.require_admin(),
            action=action,
            where=selection.filter.to_model(),
            exclude_ids=selection.exclude_ids or [],
        )
    except DomainError as error:
        refused = UserError.from_domain(error, under=("selection",), names=RANGE_NAMES)
        return StartBulkOperationPayload(operation=None, user_errors=[refused])
    return StartBulkOperationPayload(operation=BulkOperation.from_model(operation), user_errors=[])


async def cancel_bulk_operation(info: Info, id: strawberry.ID) -> CancelBulkOperationPayload:
    try:
        operation = await bulk.cancel(raw_id=id)
    except DomainError as error:
        refused = UserError.from_domain(error, arguments=OPERATION_ID)
        return CancelBulkOperationPayload(operation=None, user_errors=[refused])
    return CancelBulkOperationPayload(operation=BulkOperation.from_model(operation), user_errors=[])


async def bulk_operation(info: Info, id: strawberry.ID) -> BulkOperation | None:
    try:
        operation = await bulk.find(id)
    except DomainError as error:
        raise BadRequest.from_domain(error) from None
    return BulkOperation.from_model(operation) if operation is not None else None


async def bulk_operations(
    info: Info,
    first: Annotated[int | None, strawberry.argument(description="Page size, 1 to 100.")] = 20,
    after: Annotated[
        str | None, strawberry.argument(description="The endCursor of the previous page.")
    ] = None,
) -> BulkOperationConnection:
    size = page_size(20 if first is None else first, maximum=100)
    page = await bulk.page(first=size, after=after_id(after))
    return BulkOperationConnection.from_page(page)


async def bulk_operation_updates(
    info: Info, id: strawberry.ID
) -> AsyncGenerator[BulkOperation, None]:
    """The operation now, then each change of its progress (read at most every
    PROGRESS_SECONDS), until it ends; the token is checked again as for the other
    subscriptions."""
    ctx = info.context
    try:
        found = await bulk.find(id)
    except DomainError as error:
        raise BadRequest.from_domain(error) from None
    if found is None:
        raise BadRequest("No such bulk operation.")
    loop = asyncio.get_running_loop()
    checked_at = loop.time()
    last: tuple[object, ...] | None = None
    while True:
        operation = await bulk.find(id)
        if operation is None:
            return
        state = (operation.status, operation.processed, operation.succeeded, operation.skipped)
        if state != last:
            last = state
            yield BulkOperation.from_model(operation)
        if operation.status not in ACTIVE_STATUSES:
            return
        await asyncio.sleep(PROGRESS_SECONDS)
        if loop.time() - checked_at >= ctx.settings.subscription_token_check_seconds:
            await require_still_allowed(ctx, Permission.INVITATIONS)
            checked_at = loop.time()
