"""The private-sales reports, aggregated by the database.

Invitations count in a report when they were *created* between the local midnight that starts
`start` and the one that ends `end`, in the report's IANA time zone. Periods are calendar days,
months or years in that zone; the first and last are clipped to the range, and each row is
labelled with the first day of its calendar period.

The local period boundaries become UTC instants here, with zoneinfo (so DST changes, month ends
and year ends fall where a local calendar puts them); one aggregate query then buckets the
invitations against that list of instants. No invitation row is loaded into Python. The same SQL
runs on SQLite, whose datetimes are ISO text in UTC (compared as text, with parameters written
the way Tortoise writes them), and on PostgreSQL (timestamptz parameters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise import connections

from domain.errors import InvalidInput
from domain.ids import parse_id
from models.invitation import InvitationStatus


class Period(StrEnum):
    DAY = "DAY"
    MONTH = "MONTH"
    YEAR = "YEAR"


# At most about ten years of days, a century of months, or a century of years per report.
MAX_PERIODS = {Period.DAY: 3660, Period.MONTH: 1200, Period.YEAR: 100}
# Far enough from the ends of Python's calendar that no boundary overflows.
EARLIEST, LATEST = date(1900, 1, 1), date(9998, 12, 31)
MAX_IDS = 1000
MAX_ZONE_NAME = 64
MAX_INVITERS = 1000


@dataclass(frozen=True, slots=True)
class ReportRange:
    """What a report counts: invitations created in a local date range, in some places."""

    start: date
    end: date  # inclusive
    period: Period
    zone: ZoneInfo
    website_ids: tuple[int, ...] | None = None
    store_view_ids: tuple[int, ...] | None = None

    @classmethod
    def checked(
        cls,
        *,
        start: date,
        end: date,
        period: Period,
        timezone: str,
        website_ids: Sequence[str] | None = None,
        store_view_ids: Sequence[str] | None = None,
    ) -> ReportRange:
        """A valid range, or InvalidInput at the path of the first bad part of the filter."""
        zone = _zone(timezone)
        for name, day in (("start", start), ("end", end)):
            if not EARLIEST <= day <= LATEST:
                raise InvalidInput(
                    f"The date must lie between {EARLIEST} and {LATEST}.", field=("filter", name)
                )
        if start > end:
            raise InvalidInput("'from' must not be after 'to'.", field=("filter", "start"))
        report = cls(
            start=start,
            end=end,
            period=period,
            zone=zone,
            website_ids=_ids(website_ids, "website_ids"),
            store_view_ids=_ids(store_view_ids, "store_view_ids"),
        )
        limit = MAX_PERIODS[period]
        if report.period_count() > limit:
            raise InvalidInput(
                f"The range is too long: at most {limit} periods of a {period.value}.",
                field=("filter", "end"),
            )
        return report

    def period_count(self) -> int:
        if self.period is Period.DAY:
            return (self.end - self.start).days + 1
        years = self.end.year - self.start.year
        if self.period is Period.MONTH:
            return years * 12 + self.end.month - self.start.month + 1
        return years + 1

    def period_starts(self) -> list[date]:
        """The first local day of every period the range touches, oldest first."""
        starts, day = [], _period_start(self.start, self.period)
        while day <= self.end:
            starts.append(day)
            day = _next_period(day, self.period)
        return starts

    def instant(self, day: date) -> datetime:
        """The UTC instant at which a local day begins (at a DST gap, when it begins really)."""
        return datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)

    def buckets(self) -> list[tuple[date, datetime, datetime]]:
        """(label, first instant, instant after the last) of each period, clipped to the range."""
        after_end = self.end + timedelta(days=1)
        return [
            (
                first,
                self.instant(max(first, self.start)),
                self.instant(min(_next_period(first, self.period), after_end)),
            )
            for first in self.period_starts()
        ]

    def bounds(self) -> tuple[datetime, datetime]:
        return self.instant(self.start), self.instant(self.end + timedelta(days=1))


def _zone(name: str) -> ZoneInfo:
    field = ("filter", "timezone")
    if not name or len(name) > MAX_ZONE_NAME:
        raise InvalidInput("Give an IANA time zone name, e.g. Europe/Stockholm.", field=field)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            f"Unknown time zone {name!r}: give an IANA name, e.g. Europe/Stockholm.", field=field
        ) from None


def _ids(raw: Sequence[str] | None, name: str) -> tuple[int, ...] | None:
    # An empty list filters nothing out, like Magento's "All Websites".
    if not raw:
        return None
    if len(raw) > MAX_IDS:
        raise InvalidInput(f"At most {MAX_IDS} ids.", field=("filter", name))
    return tuple(parse_id(value, field=("filter", name, i)) for i, value in enumerate(raw))


def _period_start(day: date, period: Period) -> date:
    if period is Period.DAY:
        return day
    if period is Period.MONTH:
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _next_period(first: date, period: Period) -> date:
    if period is Period.DAY:
        return first + timedelta(days=1)
    if period is Period.MONTH:
        return date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return date(first.year + 1, 1, 1)


def _rate(part: int, whole: int) -> float:
    return round(part * 100 / whole, 2) if whole else 0.0


@dataclass(frozen=True, slots=True)
class ReportRow:
    """Invitations created in one period (or in the whole range, for the totals)."""

    period_start: date
    invited: int = 0
    sent: int = 0
    accepted: int = 0
    discarded: int = 0

    @property
    def acceptance_rate(self) -> float:
        return _rate(self.accepted, self.invited)

    @property
    def discard_rate(self) -> float:
        return _rate(self.discarded, self.invited)


@dataclass(frozen=True, slots=True)
class InvitationsReport:
    """One row per period of the range, oldest first, and the totals."""

    rows: list[ReportRow]
    totals: ReportRow


@dataclass(frozen=True, slots=True)
class InviterRow:
    """One inviting customer's invitations created in the range."""

    customer_id: int
    sent: int
    accepted: int


class _Sql:
    """Collects parameters and writes each one's placeholder in the database's own style.

    SQLite's `?` are positional: build the statement's parts in the order they appear in it.
    """

    def __init__(self) -> None:
        self.connection = connections.get("default")
        self.postgres = self.connection.capabilities.dialect == "postgres"
        self.values: list[Any] = []

    def param(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self.postgres else "?"

    def instant(self, value: datetime) -> str:
        if self.postgres:
            return self.param(value) + "::timestamptz"
        # As Tortoise writes datetimes to SQLite, so that text comparison orders instants.
        return self.param(str(value.astimezone(UTC)))

    def where(self, report: ReportRange) -> str:
        """The filter on `i` (the invitation table) shared by the reports."""
        low, high = report.bounds()
        clauses = [f"i.created_at >= {self.instant(low)}", f"i.created_at < {self.instant(high)}"]
        for column, ids in (
            ("website_id", report.website_ids),
            ("store_view_id", report.store_view_ids),
        ):
            if ids is not None:
                listed = ", ".join(self.param(i) for i in ids)
                clauses.append(f"i.{column} IN ({listed})")
        return " AND ".join(clauses)

    async def rows(self, sql: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self.connection.execute_query_dict(sql, self.values)
        return rows


async def invitations_report(report: ReportRange) -> InvitationsReport:
    """Invited, sent (delivered at least once), accepted and discarded, per period and in all."""
    sql = _Sql()
    buckets = report.buckets()
    values = ", ".join(
        f"({i}, {sql.instant(low)}, {sql.instant(high)})"
        for i, (_, low, high) in enumerate(buckets)
    )
    accepted, canceled = (
        sql.param(InvitationStatus.ACCEPTED.value),
        sql.param(InvitationStatus.CANCELED.value),
    )
    aggregates = (
        "COUNT(*) AS invited, "
        "SUM(CASE WHEN i.sent_at IS NOT NULL THEN 1 ELSE 0 END) AS sent, "
        f"SUM(CASE WHEN i.status = {accepted} THEN 1 ELSE 0 END) AS accepted, "
        f"SUM(CASE WHEN i.status = {canceled} THEN 1 ELSE 0 END) AS discarded"
    )
    in_bucket = f"i.created_at >= bucket.lo AND i.created_at < bucket.hi AND {sql.where(report)}"
    # Each period must be counted with a range scan of the created_at index: compared the other
    # way round (every invitation with every period) a ten-year DAY report takes minutes. Left to
    # themselves both planners may pick that, so the query says it: a LATERAL subquery per period
    # on PostgreSQL, a CROSS JOIN (which fixes the loop order in SQLite) on SQLite.
    if sql.postgres:
        counting = (
            f"SELECT bucket.idx AS idx, c.* FROM bucket CROSS JOIN LATERAL "  # noqa: S608
            f"(SELECT {aggregates} FROM invitation AS i WHERE {in_bucket}) AS c"
        )
    else:
        counting = (
            f"SELECT bucket.idx AS idx, {aggregates} "  # noqa: S608
            f"FROM bucket CROSS JOIN invitation AS i WHERE {in_bucket} GROUP BY bucket.idx"
        )
    found = await sql.rows(f"WITH bucket(idx, lo, hi) AS (VALUES {values}) {counting}")
    counts = {int(row["idx"]): row for row in found}

    def count(i: int, column: str) -> int:
        # A period without invitations has no row (SQLite) or NULL sums (PostgreSQL).
        return int(counts[i][column] or 0) if i in counts else 0

    rows = [
        ReportRow(
            period_start=label,
            invited=count(i, "invited"),
            sent=count(i, "sent"),
            accepted=count(i, "accepted"),
            discarded=count(i, "discarded"),
        )
        for i, (label, _, _) in enumerate(buckets)
    ]
    totals = ReportRow(
        period_start=report.start,
        invited=sum(r.invited for r in rows),
        sent=sum(r.sent for r in rows),
        accepted=sum(r.accepted for r in rows),
        discarded=sum(r.discarded for r in rows),
    )
    return InvitationsReport(rows=rows, totals=totals)


async def invited_customers_report(report: ReportRange, *, first: int) -> list[InviterRow]:
    """Per inviting customer (not admins), of the invitations created in the range: how many were
    delivered (sent) and accepted; most sent first."""
    if not 1 <= first <= MAX_INVITERS:
        raise InvalidInput(f"'first' must be between 1 and {MAX_INVITERS}.", field=("first",))
    sql = _Sql()
    accepted = sql.param(InvitationStatus.ACCEPTED.value)
    where = sql.where(report)
    found = await sql.rows(
        "SELECT i.inviter_id AS customer_id, "  # noqa: S608 (placeholders only)
        "SUM(CASE WHEN i.sent_at IS NOT NULL THEN 1 ELSE 0 END) AS sent, "
        f"SUM(CASE WHEN i.status = {accepted} THEN 1 ELSE 0 END) AS accepted "
        f"FROM invitation AS i WHERE i.inviter_id IS NOT NULL AND {where} "
        "GROUP BY i.inviter_id "
        f"ORDER BY sent DESC, accepted DESC, customer_id ASC LIMIT {sql.param(first)}"
    )
    return [
        InviterRow(
            customer_id=int(r["customer_id"]), sent=int(r["sent"]), accepted=int(r["accepted"])
        )
        for r in found
    ]
