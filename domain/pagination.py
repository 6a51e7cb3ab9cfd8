"""Keyset pagination: a page after a (sort key, id) position, with SQL limits and a count.

Rows are ordered by one sort field, then by id, in one direction; the position of the last row
seen is what the API's opaque cursor carries (schema/pagination.py encodes it). A keyset page
costs the same at row one million as at row one, unlike OFFSET.

A nullable sort field orders the same on every database: NULL is the lowest value (as SQLite and
MySQL order it; PostgreSQL puts NULL highest). Rather than NULLS FIRST/LAST, which PostgreSQL can
only serve from an index declared that way, the rows are read as two segments, each a plain range
of the (field, id) index: the non-null keys, and the null keys ordered by id alone. A page reads
from the segment its cursor is in and, when that one runs out, from the start of the next.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tortoise.expressions import F, Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)

# The annotation that carries a sort key read through a relation (e.g. the invitee's e-mail).
KEY_ANNOTATION = "keyset_key"


@dataclass(frozen=True, slots=True)
class Page(Generic[M]):
    """One page of rows in order, whether more follow, and how to count the whole query.

    The count is a separate query, run only when asked for: it reads every matching index entry,
    so it is the one part of a page whose cost grows with the table.
    """

    rows: list[M]
    has_next_page: bool
    has_previous_page: bool
    # The sort key of each row, as its cursor carries it (same order as `rows`).
    keys: list[Any]
    query: QuerySet[M]
    # A cheaper way to the same exact count, when the caller has one (see domain.grid).
    counter: Callable[[], Awaitable[int]] | None = None

    async def total_count(self) -> int:
        if self.counter is not None:
            return await self.counter()
        return await self.query.count()


@dataclass(frozen=True, slots=True)
class Ordering:
    """A sort field (an ORM path, may cross a relation), its direction and nullability.

    `present` picks the rows whose key is not NULL (default: `field IS NOT NULL`); a field read
    through a LEFT JOIN should give a comparison instead, which lets the databases join that part
    as an INNER JOIN and walk an index of the joined table in order.
    """

    field: str
    descending: bool = True
    nullable: bool = False
    present: Q | None = None

    @property
    def through_relation(self) -> bool:
        return "__" in self.field

    def key_of(self, row: Model) -> Any:
        return getattr(row, KEY_ANNOTATION if self.through_relation else self.field)


def after_position(sort_field: str, key: Any, row_id: int, *, descending: bool = True) -> Q:
    """Rows after non-null (key, id) in (sort_field, id) order.

    Written as `field <= key AND (field < key OR id < row_id)`: the first part bounds the index
    range scan, the second skips the ties already seen.
    """
    if descending:
        return Q(**{f"{sort_field}__lte": key}) & (
            Q(**{f"{sort_field}__lt": key}) | Q(id__lt=row_id)
        )
    return Q(**{f"{sort_field}__gte": key}) & (Q(**{f"{sort_field}__gt": key}) | Q(id__gt=row_id))


async def fetch_page(
    query: QuerySet[M], *, sort_field: str, first: int, after: tuple[Any, int] | None
) -> Page[M]:
    """`first` rows of `query` after the position `after` (None: from the start), newest first
    by a sort field that is never null."""
    return await fetch_ordered_page(query, ordering=Ordering(sort_field), first=first, after=after)


async def fetch_ordered_page(
    query: QuerySet[M], *, ordering: Ordering, first: int, after: tuple[Any, int] | None
) -> Page[M]:
    """`first` rows of `query` in `ordering` after the position `after` (None: from the start)."""
    counted = query
    if ordering.through_relation:
        query = query.annotate(**{KEY_ANNOTATION: F(ordering.field)})
    wanted = first + 1
    rows: list[M] = []
    for segment in _segments(query, ordering, after):
        rows += await segment.limit(wanted - len(rows))
        if len(rows) >= wanted:
            break
    page = rows[:first]
    return Page(
        rows=page,
        has_next_page=len(rows) > first,
        has_previous_page=after is not None,
        keys=[ordering.key_of(row) for row in page],
        query=counted,
    )


def _segments(
    query: QuerySet[M], ordering: Ordering, after: tuple[Any, int] | None
) -> list[QuerySet[M]]:
    """The queries that read the rows after `after`, in order (see the module docstring)."""
    field, desc = ordering.field, ordering.descending
    sign = "-" if desc else ""
    values = query.order_by(f"{sign}{field}", f"{sign}id")
    if not ordering.nullable:
        return [values.filter(after_position(field, *after, descending=desc)) if after else values]
    null: dict[str, Any] = {f"{field}__isnull": True}
    not_null: dict[str, Any] = {f"{field}__isnull": False}
    values = values.filter(ordering.present or Q(**not_null))
    nulls = query.filter(**null).order_by(f"{sign}id")
    if after is None:
        return [values, nulls] if desc else [nulls, values]
    key, row_id = after
    if key is None:
        rest = nulls.filter(id__lt=row_id) if desc else nulls.filter(id__gt=row_id)
        return [rest] if desc else [rest, values]
    rest = values.filter(after_position(field, key, row_id, descending=desc))
    return [rest, nulls] if desc else [rest]
