"""Parsing the record ids clients send as GraphQL `ID`s."""

from __future__ import annotations

from domain.errors import Field, InvalidInput

# Primary keys are 32-bit integer columns: a larger number cannot name a row, and PostgreSQL
# refuses to compare it with one.
MAX_ID = 2**31 - 1


def parse_id(raw: str, *, field: Field) -> int:
    """The integer id in `raw`; InvalidInput at `field` when it cannot name a row."""
    text = raw.strip()
    valid = len(text) <= len(str(MAX_ID)) and text.isascii() and text.isdigit()
    if not valid or not 1 <= int(text) <= MAX_ID:
        raise InvalidInput(f"{raw!r} is not a valid id.", field=field)
    return int(text)
