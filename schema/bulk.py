"""GraphQL types of bulk operations ("Select All", SPEC §12)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

import strawberry

from domain import bulk
from domain.pagination import Page
from models import bulk as m
from schema.errors import ErrorCode, UserError
from schema.grid import InvitationFilter
from schema.pagination import PageInfo, decode_cursor, encode_cursor, page_size

strawberry.enum(
    m.BulkAction,
    name="BulkInvitationAction",
    description="What a bulk operation does to each invitation: discardInvitations' or "
    "resendInvitations' rules.",
)
strawberry.enum(
    m.BulkStatus,
    name="BulkOperationStatus",
    description="QUEUED → RUNNING → COMPLETED, or CANCELED (between chunks), or FAILED.",
)

MAX_SKIPPED_PAGE = 200


@strawberry.input(description='The invitations of a "Select All": a grid filter, less some ids.')
class InvitationSelection:
    filter: InvitationFilter = strawberry.field(description='The grid\'s filter ("Select All").')
    exclude_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Rows unticked after Select All (at most 10,000)."
    )


@strawberry.type(description="Why one invitation of a bulk operation was skipped.")
class BulkItemOutcome:
    invitation_id: strawberry.ID = strawberry.field(description="The invitation.")
    code: ErrorCode = strawberry.field(description="The code the synchronous mutation gives.")
    message: str = strawberry.field(description="Why, for people.")


@strawberry.type(description="A page of skipped items.")
class BulkItemOutcomeConnection:
    nodes: list[BulkItemOutcome] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Where the page starts and ends.")
    page: strawberry.Private[Page[m.BulkOperationItem]]

    @strawberry.field(description="How many items were skipped so far.")
    async def total_count(self) -> int:
        return await self.page.total_count()


def _page_info(page: Page[m.BulkOperationItem] | Page[m.BulkOperation]) -> PageInfo:
    cursors = [encode_cursor(row.id, row.id) for row in page.rows]
    return PageInfo(
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


def after_id(after: str | None) -> int | None:
    """The id an opaque cursor of these connections carries; BadRequest when it is not ours."""
    return decode_cursor(after)[1] if after is not None else None


@strawberry.type(description="An action on every invitation a grid filter matched, in chunks.")
class BulkOperation:
    id: strawberry.ID = strawberry.field(description="Operation id.")
    action: m.BulkAction = strawberry.field(description="What it does to each invitation.")
    status: m.BulkStatus = strawberry.field(description="Where it stands.")
    total: int = strawberry.field(description="Invitations selected when it started.")
    processed: int = strawberry.field(description="Invitations handled so far.")
    succeeded: int = strawberry.field(description="Discarded / queued again.")
    skipped: int = strawberry.field(description="Each with its reason in skippedItems.")
    actor: str = strawberry.field(description='Who started it ("admin:<username>").')
    created_at: datetime = strawberry.field(description="When it started.")
    finished_at: datetime | None = strawberry.field(
        description="When it completed, was canceled or failed."
    )
    row: strawberry.Private[m.BulkOperation]

    @classmethod
    def from_model(cls, row: m.BulkOperation) -> BulkOperation:
        return cls(
            id=strawberry.ID(str(row.id)),
            action=row.action,
            status=row.status,
            total=row.total,
            processed=row.processed,
            succeeded=row.succeeded,
            skipped=row.skipped,
            actor=row.actor,
            created_at=row.created_at,
            finished_at=row.finished_at,
            row=row,
        )

    @strawberry.field(description="The skipped invitations, in the order handled, with reasons.")
    async def skipped_items(
        self,
        first: Annotated[int | None, strawberry.argument(description="Page size, 1 to 200.")] = 50,
        after: Annotated[
            str | None, strawberry.argument(description="The endCursor of the previous page.")
        ] = None,
    ) -> BulkItemOutcomeConnection:
        page = await bulk.skipped_items(
            self.row,
            first=page_size(50 if first is None else first, maximum=MAX_SKIPPED_PAGE),
            after=after_id(after),
        )
        return BulkItemOutcomeConnection(
            nodes=[
                BulkItemOutcome(
                    invitation_id=strawberry.ID(str(item.invitation_id)),
                    code=ErrorCode(cast(str, item.code)),  # a skipped item always has its code
                    message=item.message or "",
                )
                for item in page.rows
            ],
            page_info=_page_info(page),
            page=page,
        )


@strawberry.type(description="A page of bulk operations, newest first.")
class BulkOperationConnection:
    nodes: list[BulkOperation] = strawberry.field(description="The operations of this page.")
    page_info: PageInfo = strawberry.field(description="Where the page starts and ends.")
    page: strawberry.Private[Page[m.BulkOperation]]

    @strawberry.field(description="How many operations there are.")
    async def total_count(self) -> int:
        return await self.page.total_count()

    @classmethod
    def from_page(cls, page: Page[m.BulkOperation]) -> BulkOperationConnection:
        nodes = [BulkOperation.from_model(row) for row in page.rows]
        return cls(nodes=nodes, page_info=_page_info(page), page=page)


@strawberry.type(description="Result of startBulkInvitationAction.")
class StartBulkOperationPayload:
    operation: BulkOperation | None = strawberry.field(
        description="The operation, QUEUED (COMPLETED at once when nothing matched)."
    )
    user_errors: list[UserError] = strawberry.field(
        description='Why it did not start, e.g. field = ["selection","excludeIds","2"].'
    )


@strawberry.type(description="Result of cancelBulkOperation.")
class CancelBulkOperationPayload:
    operation: BulkOperation | None = strawberry.field(description="The operation, CANCELED.")
    user_errors: list[UserError] = strawberry.field(description="Why it was not canceled.")
