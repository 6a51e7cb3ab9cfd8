"""GraphQL projections of the private-sales reports (admin)."""

from __future__ import annotations

from datetime import date

import strawberry

from domain import reports as m
from schema.accounts import Customer
from schema.context import Info

ReportPeriod = strawberry.enum(
    m.Period, name="ReportPeriod", description="The calendar period rows are grouped by."
)


@strawberry.input(description="Which invitations a report counts, and how it groups them.")
class ReportFilter:
    from_: date = strawberry.field(
        name="from", description="First local day of the range (inclusive)."
    )
    to: date = strawberry.field(description="Last local day of the range (inclusive).")
    period: m.Period = strawberry.field(
        default=m.Period.DAY, description="Group by calendar DAY, MONTH or YEAR."
    )
    timezone: str = strawberry.field(
        default="UTC", description="IANA time zone of the calendar, e.g. Europe/Stockholm."
    )
    website_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Only invitations of these websites."
    )
    store_view_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Only invitations from these store views."
    )

    def to_range(self) -> m.ReportRange:
        """The checked range; InvalidInput at the bad part of the filter."""
        return m.ReportRange.checked(
            start=self.from_,
            end=self.to,
            period=self.period,
            timezone=self.timezone,
            website_ids=self.website_ids or None,
            store_view_ids=self.store_view_ids or None,
        )


@strawberry.type(description="Invitations created in one period (or in the whole range).")
class InvitationsReportRow:
    period_start: date = strawberry.field(
        description="First day of the calendar period; for the totals, the first day of the range."
    )
    invited: int = strawberry.field(description="Invitations created in the period.")
    sent: int = strawberry.field(description="Of those, delivered at least once.")
    accepted: int = strawberry.field(description="Of those, accepted.")
    discarded: int = strawberry.field(description="Of those, discarded or canceled.")
    acceptance_rate: float = strawberry.field(
        description="accepted / invited * 100, rounded to 2 decimals; 0 when invited is 0."
    )
    discard_rate: float = strawberry.field(
        description="discarded / invited * 100, rounded to 2 decimals; 0 when invited is 0."
    )

    @classmethod
    def from_model(cls, row: m.ReportRow) -> InvitationsReportRow:
        return cls(
            period_start=row.period_start,
            invited=row.invited,
            sent=row.sent,
            accepted=row.accepted,
            discarded=row.discarded,
            acceptance_rate=row.acceptance_rate,
            discard_rate=row.discard_rate,
        )


@strawberry.type(description="Invitations by the period of their creation, with totals.")
class InvitationsReport:
    rows: list[InvitationsReportRow] = strawberry.field(
        description="One row per period of the range, oldest first; empty periods give zeros."
    )
    totals: InvitationsReportRow = strawberry.field(description="The whole range.")

    @classmethod
    def from_model(cls, report: m.InvitationsReport) -> InvitationsReport:
        return cls(
            rows=[InvitationsReportRow.from_model(row) for row in report.rows],
            totals=InvitationsReportRow.from_model(report.totals),
        )


@strawberry.type(description="One inviting customer's invitations created in the range.")
class InvitedCustomerRow:
    customer_id: strawberry.Private[int]
    invitations_sent: int = strawberry.field(description="Of those, delivered at least once.")
    invitations_accepted: int = strawberry.field(description="Of those, accepted.")

    @strawberry.field(description="The inviting customer.")
    async def customer(self, info: Info) -> Customer:
        row = await info.context.loaders.customer.load(self.customer_id)
        assert row is not None, "foreign key"
        return Customer.from_model(row)

    @classmethod
    def from_model(cls, row: m.InviterRow) -> InvitedCustomerRow:
        return cls(
            customer_id=row.customer_id,
            invitations_sent=row.sent,
            invitations_accepted=row.accepted,
        )
