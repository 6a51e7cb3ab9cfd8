"""Cursor pagination arguments: opaque cursors and page sizes, refused clearly when bad.

A cursor is base64url of the JSON array [sort key, id] of the last row a client has seen. It is
opaque to clients but not secret: it only says where a page ends. A cursor or a page size the
client made up is a top-level BAD_REQUEST, never a crash.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

import strawberry

from domain.ids import is_id
from schema.errors import BadRequest

MAX_CURSOR_LENGTH = 4096  # a sort key may be a long non-ASCII e-mail, JSON-escaped

CursorKey = str | int | None


@strawberry.type(description="Where a page of a connection starts and ends.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More rows follow this page.")
    has_previous_page: bool = strawberry.field(
        description="The page was asked for after a cursor, so rows precede it."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first row of the page.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last row: pass it as `after` for the next page."
    )


def encode_cursor(key: CursorKey | datetime, row_id: int) -> str:
    # An ISO date, an integer (not a bool) and null need no JSON escaping: written out, the array
    # is json.dumps's to the byte, without its encoder's cost (a page has a cursor per row; the
    # grid's default order, by id, has integer keys).
    if isinstance(key, datetime):
        raw = f'["{key.isoformat()}",{row_id}]'.encode()
    elif type(key) is int:
        raw = f"[{key},{row_id}]".encode()
    elif key is None:
        raw = f"[null,{row_id}]".encode()
    else:
        raw = json.dumps([key, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[CursorKey, int]:
    """The (sort key, id) a cursor of ours carries; BadRequest for anything else."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key, row_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise BadRequest("The cursor is not valid: pass a cursor from a previous page.") from None
    if not is_id(row_id) or not isinstance(key, str | int | None):
        raise BadRequest("The cursor is not valid: pass a cursor from a previous page.")
    return key, row_id


def decode_datetime_cursor(cursor: str) -> tuple[datetime, int]:
    key, row_id = decode_cursor(cursor)
    try:
        moment = datetime.fromisoformat(key) if isinstance(key, str) else None
        # Rows are stored in UTC; an offset at the edge of the calendar cannot be converted.
        utc = moment.astimezone(UTC) if moment is not None and moment.tzinfo else None
    except (ValueError, OverflowError):
        utc = None
    if utc is None:
        raise BadRequest("The cursor is not valid: pass a cursor from a previous page.")
    return utc, row_id


def page_size(first: int, *, maximum: int) -> int:
    """`first` when it is between 1 and `maximum`; BadRequest otherwise."""
    if not 1 <= first <= maximum:
        raise BadRequest(f"`first` must be between 1 and {maximum}, not {first}.")
    return first
