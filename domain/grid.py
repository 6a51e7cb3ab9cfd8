"""The admin grid of invitations: Magento's columns filtered and sorted, a keyset page at a time.

Sorting (`SortField`): ID, EMAIL (the invited address as stored), CREATED_AT, SENT_AT,
ACCEPTED_AT, STATUS (the stored status, so an open invitation past its expiry sorts with its
stored NOT_SENT/SENT), WEBSITE and INVITEE_GROUP (by id: the ids are what the grid's filters take
and what the indexes hold), INVITEE (the invitee customer's e-mail, through a LEFT JOIN). Ties are
broken by id in the same direction; a NULL key (never sent, not accepted, no invitee, the default
group) is the lowest value on every database (see models.pagination).

Filtering: every condition given narrows the rows; an empty list filters nothing out (like
Magento's "All Websites"). Substring searches are case-insensitive and take `%` and `_`
literally; a page and its totalCount read a trigram index for them (models.email_search) unless
the needle is shorter than 3 characters or in too many addresses, which scan. Ranges include
both ends. A bad argument is an InvalidInput at its path.

totalCount: a filter made only of status, delivery state, websites, store views, invitee groups
and createdByAdmin is counted from the summary counts that triggers keep (models.invitation_counts),
exactly and in about the same time at any size; any other filter by an exact COUNT of its rows.

Relations: `page_relations` loads the store views, websites, groups and customers a page's rows
refer to, a query per table, only for the kinds asked for (what the operation selects).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from domain.errors import InvalidInput
from domain.ids import parse_id
from domain.invitations import status_filter
from domain.pagination import Ordering, Page, fetch_ordered_page
from domain.validation import has_control_characters
from models import email_search
from models.accounts import Customer
from models.invitation import DeliveryState, Invitation, InvitationStatus
from models.invitation_counts import CountScope, count_in_scope
from models.store import CustomerGroup, StoreView, Website

M = TypeVar("M", bound=Model)

MAX_PAGE_SIZE = 200
MAX_FILTER_IDS = 1000
MAX_SEARCH_LENGTH = 320


class SortField(StrEnum):
    ID = "ID"
    EMAIL = "EMAIL"
    INVITEE = "INVITEE"
    CREATED_AT = "CREATED_AT"
    SENT_AT = "SENT_AT"
    ACCEPTED_AT = "ACCEPTED_AT"
    STATUS = "STATUS"
    WEBSITE = "WEBSITE"
    INVITEE_GROUP = "INVITEE_GROUP"


@dataclass(frozen=True, slots=True)
class SortColumn:
    """How a sort field reads: its ORM path, whether it may be NULL, and its cursor key type."""

    path: str
    nullable: bool
    key_type: type
    present: Q | None = None


SORT_COLUMNS = {
    SortField.ID: SortColumn("id", False, int),
    SortField.EMAIL: SortColumn("email", False, str),
    # "Has an invitee" as a comparison on the joined column (every address is >= ''): unlike
    # NOT … IS NULL it lets SQLite and PostgreSQL join as an INNER JOIN and walk the customer
    # e-mail index in order, instead of sorting every accepted invitation (bench/grid.py).
    SortField.INVITEE: SortColumn("invitee__email", True, str, present=Q(invitee__email__gte="")),
    SortField.CREATED_AT: SortColumn("created_at", False, datetime),
    SortField.SENT_AT: SortColumn("sent_at", True, datetime),
    SortField.ACCEPTED_AT: SortColumn("accepted_at", True, datetime),
    SortField.STATUS: SortColumn("status", False, str),
    SortField.WEBSITE: SortColumn("website_id", False, int),
    SortField.INVITEE_GROUP: SortColumn("invitee_group_id", True, int),
}


def ordering(field: SortField, *, reverse: bool) -> Ordering:
    column = SORT_COLUMNS[field]
    return Ordering(
        column.path, descending=reverse, nullable=column.nullable, present=column.present
    )


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Both ends included; None: open on that side."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class GridFilter:
    """The raw filter of the grid, as the API gives it (ids still text)."""

    ids: Sequence[str] | None = None
    email: str | None = None
    invitee: str | None = None
    inviter_customer_id: str | None = None
    created_by_admin: bool | None = None
    status: Sequence[InvitationStatus] | None = None
    delivery_state: Sequence[DeliveryState] | None = None
    sent_at: TimeRange | None = None
    accepted_at: TimeRange | None = None
    created_at: TimeRange | None = None
    website_ids: Sequence[str] | None = None
    store_view_ids: Sequence[str] | None = None
    invitee_group_ids: Sequence[str] | None = None

    def condition(self, now: datetime) -> Q:
        """The filter as one condition; InvalidInput at the path of a bad part."""
        parts: list[Q] = []
        for name, column, raw in (
            ("ids", "id", self.ids),
            ("website_ids", "website_id", self.website_ids),
            ("store_view_ids", "store_view_id", self.store_view_ids),
            ("invitee_group_ids", "invitee_group_id", self.invitee_group_ids),
        ):
            if raw:
                in_list: dict[str, Any] = {f"{column}__in": _ids(raw, name)}
                parts.append(Q(**in_list))
        if self.email is not None:
            parts.append(Q(email_key__contains=_needle(self.email, "email")))
        if self.invitee is not None:
            parts.append(Q(invitee__email_key__contains=_needle(self.invitee, "invitee")))
        if self.inviter_customer_id is not None:
            inviter = parse_id(self.inviter_customer_id, field=("filter", "inviter_customer_id"))
            parts.append(Q(inviter_id=inviter))
        if self.created_by_admin is not None:
            parts.append(Q(inviter_id__isnull=self.created_by_admin))
        if self.status:
            parts.append(status_filter(self.status, now))
        if self.delivery_state:
            parts.append(Q(delivery_state__in=list(set(self.delivery_state))))
        for name, column, span in (
            ("sent_at", "sent_at", self.sent_at),
            ("accepted_at", "accepted_at", self.accepted_at),
            ("created_at", "created_at", self.created_at),
        ):
            if span is not None:
                parts.append(_within(column, span, name))
        return Q(*parts) if parts else Q()

    async def narrowing(self) -> Q:
        """What the trigram index tells of the substring searches (models.email_search): rows
        that `condition` admits meet it too, and AND-ed with `condition` it lets the database
        read only the candidates. Empty when the index cannot help. Call it after `condition`,
        which validates."""
        parts: list[Q] = []
        for table, id_path, text, name in (
            ("invitation", "id", self.email, "email"),
            ("customer", "invitee_id", self.invitee, "invitee"),
        ):
            if text is not None:
                found = await email_search.candidates(table, _needle(text, name), id_path=id_path)
                if found is not None:
                    parts.append(found)
        return Q(*parts) if parts else Q()

    def count_scope(self) -> CountScope | None:
        """The filter as a scope of the summary counts (models.invitation_counts), or None when
        it takes anything else (ids, a search, an inviter, a date range): then only an exact
        COUNT over the matching rows tells. Call it after `condition`, which validates."""
        if (
            self.ids
            or self.email is not None
            or self.invitee is not None
            or self.inviter_customer_id is not None
            or self.sent_at is not None
            or self.accepted_at is not None
            or self.created_at is not None
        ):
            return None
        return CountScope(
            statuses=list(self.status or ()),
            delivery_states=list(self.delivery_state or ()),
            website_ids=_ids(self.website_ids, "website_ids") if self.website_ids else (),
            store_view_ids=_ids(self.store_view_ids, "store_view_ids")
            if self.store_view_ids
            else (),
            invitee_group_ids=(
                _ids(self.invitee_group_ids, "invitee_group_ids") if self.invitee_group_ids else ()
            ),
            created_by_admin=self.created_by_admin,
        )


def _ids(raw: Sequence[str], name: str) -> list[int]:
    if len(raw) > MAX_FILTER_IDS:
        raise InvalidInput(f"At most {MAX_FILTER_IDS} ids.", field=("filter", name))
    return sorted({parse_id(value, field=("filter", name, i)) for i, value in enumerate(raw)})


def _needle(text: str, name: str) -> str:
    """What a substring search compares: e-mail keys are case-folded, so is the needle."""
    if len(text) > MAX_SEARCH_LENGTH:
        raise InvalidInput(
            f"Search for at most {MAX_SEARCH_LENGTH} characters.", field=("filter", name)
        )
    if has_control_characters(text):
        # No address holds one, and PostgreSQL refuses a NUL in a text parameter.
        raise InvalidInput("Search without control characters.", field=("filter", name))
    return text.strip().casefold()


def _within(column: str, span: TimeRange, name: str) -> Q:
    if span.start is not None and span.end is not None and span.start > span.end:
        raise InvalidInput("'from' must not be after 'to'.", field=("filter", name, "start"))
    bounds: dict[str, Any] = {}
    if span.start is not None:
        bounds[f"{column}__gte"] = span.start
    if span.end is not None:
        bounds[f"{column}__lte"] = span.end
    return Q(**bounds)


async def grid_row(*, where: GridFilter, invitation_id: int, now: datetime) -> Invitation | None:
    """The invitation with this id if the grid filter admits it (live updates filter alike)."""
    return await Invitation.filter(where.condition(now), id=invitation_id).first()


async def grid_page(
    *,
    where: GridFilter,
    sort: SortField,
    reverse: bool,
    first: int,
    after: tuple[object, int] | None,
    now: datetime,
) -> Page[Invitation]:
    """A page of the grid; `after` is the (sort key, id) of the last row seen."""
    query: QuerySet[Invitation] = Invitation.filter(where.condition(now), await where.narrowing())
    page = await fetch_ordered_page(
        query, ordering=ordering(sort, reverse=reverse), first=first, after=after
    )
    scope = where.count_scope()
    if scope is None:
        return page

    async def count() -> int:
        return await count_in_scope(scope, now)

    return replace(page, counter=count)


class Relation(StrEnum):
    """A row the grid shows beside an invitation."""

    STORE_VIEW = "store_view"
    WEBSITE = "website"
    INVITEE_GROUP = "invitee_group"
    INVITER = "inviter"
    INVITEE = "invitee"


@dataclass(frozen=True, slots=True)
class Relations:
    """The related rows of a page, by id; only the kinds asked for are loaded (`loaded`)."""

    loaded: frozenset[Relation] = frozenset()
    store_views: dict[int, StoreView] = field(default_factory=dict)
    websites: dict[int, Website] = field(default_factory=dict)
    groups: dict[int, CustomerGroup] = field(default_factory=dict)
    # Inviters and invitees alike.
    customers: dict[int, Customer] = field(default_factory=dict)


async def _by_id(model: type[M], ids: Iterable[int | None]) -> dict[int, M]:
    wanted = sorted({i for i in ids if i is not None})
    return {row.pk: row for row in await model.filter(id__in=wanted)} if wanted else {}


async def page_relations(rows: Sequence[Invitation], wanted: Collection[Relation]) -> Relations:
    """The rows related to a page's invitations, at most one query per table, run together."""
    kinds = frozenset(wanted)
    if not kinds:
        return Relations()
    customer_ids: list[int | None] = []
    if Relation.INVITER in kinds:
        customer_ids += [row.inviter_id for row in rows]
    if Relation.INVITEE in kinds:
        customer_ids += [row.invitee_id for row in rows]
    store_views, websites, groups, customers = await asyncio.gather(
        _by_id(StoreView, (r.store_view_id for r in rows) if Relation.STORE_VIEW in kinds else ()),
        _by_id(Website, (r.website_id for r in rows) if Relation.WEBSITE in kinds else ()),
        _by_id(
            CustomerGroup,
            (r.invitee_group_id for r in rows) if Relation.INVITEE_GROUP in kinds else (),
        ),
        _by_id(Customer, customer_ids),
    )
    return Relations(kinds, store_views, websites, groups, customers)
