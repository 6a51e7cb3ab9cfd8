"""The short path for plain leaf fields answers exactly as graphql-core's standard path."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry

from schema import execution
from schema.execution import ExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"


@strawberry.type
class Row:
    id: strawberry.ID
    name: str
    note: str | None
    count: int
    at: datetime
    colour: Colour

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


GOOD = Row(
    id=strawberry.ID("1"),
    name="Åsa",
    note=None,
    count=3,
    at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    colour=Colour.RED,
)
ROWS: dict[str, list[Any]] = {
    "good": [GOOD],
    # What the standard path refuses: a null where none is allowed, a value an Int cannot hold,
    # a string where an enum is expected, an exception as a value.
    "null": [Row(**{**GOOD.__dict__, "name": None})],
    "not an int": [Row(**{**GOOD.__dict__, "count": "three"})],
    "too big": [Row(**{**GOOD.__dict__, "count": 2**40})],
    "not a colour": [Row(**{**GOOD.__dict__, "colour": "green"})],
    "exception": [Row(**{**GOOD.__dict__, "note": ValueError("boom")})],
}


@strawberry.type
class Query:
    @strawberry.field
    def rows(self, which: str) -> list[Row]:
        return ROWS[which]


QUERY = "query ($which: String!) { rows(which: $which) { id name note count at colour shout } }"


@pytest.mark.parametrize("which", list(ROWS))
async def test_the_answer_is_the_standard_one(which: str) -> None:
    standard = strawberry.Schema(query=Query)
    short = strawberry.Schema(query=Query, execution_context_class=ExecutionContext)

    expected = await standard.execute(QUERY, variable_values={"which": which})
    result = await short.execute(QUERY, variable_values={"which": which})

    assert result.data == expected.data
    assert [e.formatted for e in result.errors or []] == [
        e.formatted for e in expected.errors or []
    ]
    if which == "good":
        # The leaves took the short path (`shout` has a resolver: the standard one).
        plans = execution._plans[short._schema]
        leaves = ("id", "name", "note", "count", "at", "colour")
        assert all(plans[("Row", name)] for name in leaves)
        assert plans[("Row", "shout")] is None
        assert result.data == {
            "rows": [
                {
                    "id": "1",
                    "name": "Åsa",
                    "note": None,
                    "count": 3,
                    "at": "2026-01-02T03:04:05.000006+00:00",
                    "colour": "RED",
                    "shout": "ÅSA",
                }
            ]
        }
    else:
        assert result.errors
