"""The private-sales reports (admin, INVITATION_REPORTS).

These fields have no userErrors: a bad filter is a top-level BAD_REQUEST error whose extensions
carry the path of the bad argument (`field`) and the reason code.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain import reports
from domain.errors import DomainError
from schema.context import Info
from schema.errors import RANGE_NAMES, BadRequest
from schema.reports import InvitationsReport, InvitedCustomerRow, ReportFilter

FilterArgument = Annotated[
    ReportFilter, strawberry.argument(description="The range, grouping and places to count.")
]


async def invitations_report(info: Info, filter: FilterArgument) -> InvitationsReport:
    try:
        report = await reports.invitations_report(filter.to_range())
    except DomainError as error:
        raise BadRequest.from_domain(error, names=RANGE_NAMES) from None
    return InvitationsReport.from_model(report)


async def invited_customers_report(
    info: Info,
    filter: FilterArgument,
    first: Annotated[
        int | None,
        strawberry.argument(description="How many customers, 1 to 1000 (most sent first)."),
    ] = 100,
) -> list[InvitedCustomerRow]:
    try:
        rows = await reports.invited_customers_report(
            filter.to_range(), first=100 if first is None else first
        )
    except DomainError as error:
        raise BadRequest.from_domain(error, names=RANGE_NAMES) from None
    return [InvitedCustomerRow.from_model(row) for row in rows]
