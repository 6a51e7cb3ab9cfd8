"""Keyset pagination: a page after a (sort key, id) position, with SQL limits and a count.

Rows are ordered by one sort field, then by id, both descending; the position of the last row
seen is what the API's opaque cursor carries (schema/pagination.py encodes it). A keyset page
costs the same at row one million as at row one, unlike OFFSET.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)


@dataclass(frozen=True, slots=True)
class Page(Generic[M]):
    """One page of rows in order, the number of rows of the whole query, and whether more follow."""

    rows: list[M]
    total_count: int
    has_next_page: bool
    has_previous_page: bool


def after_position(sort_field: str, key: Any, row_id: int) -> Q:
    """Rows after (key, id) in descending (sort_field, id) order; the sort field is never null."""
    return Q(**{f"{sort_field}__lt": key}) | Q(**{sort_field: key, "id__lt": row_id})


async def fetch_page(
    query: QuerySet[M], *, sort_field: str, first: int, after: tuple[Any, int] | None
) -> Page[M]:
    """`first` rows of `query` after the position `after` (None: from the start)."""
    total_count = await query.count()
    if after is not None:
        query = query.filter(after_position(sort_field, *after))
    rows = await query.order_by(f"-{sort_field}", "-id").limit(first + 1)
    return Page(
        rows=rows[:first],
        total_count=total_count,
        has_next_page=len(rows) > first,
        has_previous_page=after is not None,
    )
