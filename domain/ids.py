"""Record ids: the one bound and the one parser of the ids clients send (as GraphQL `ID`s or
inside cursors)."""

from __future__ import annotations

from domain.errors import Field, InvalidInput

# Primary keys are 32-bit integer columns: a larger number cannot name a row, and PostgreSQL
# refuses to compare it with one.
MAX_ID = 2**31 - 1
_MAX_DIGITS = len(str(MAX_ID))


def is_id(value: object) -> bool:
    """Whether `value` is an integer that can name a row (as a cursor carries one)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def id_or_none(raw: str) -> int | None:
    """The integer id in `raw`, or None when it cannot name a row."""
    text = raw.strip()
    # The length first: int() of a long string of digits costs time quadratic in its length.
    if len(text) > _MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if is_id(value) else None


def parse_id(raw: str, *, field: Field) -> int:
    """The integer id in `raw`; InvalidInput at `field` when it cannot name a row."""
    value = id_or_none(raw)
    if value is None:
        raise InvalidInput(f"{raw!r} is not a valid id.", field=field)
    return value
