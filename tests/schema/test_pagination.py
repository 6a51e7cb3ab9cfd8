"""Cursors and page sizes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from schema.errors import BadRequest
from schema.pagination import decode_cursor, decode_datetime_cursor, encode_cursor, page_size


def test_cursors_round_trip_their_sort_key_and_id() -> None:
    moment = datetime(2026, 11, 22, 3, 4, 5, 123456, tzinfo=UTC)

    assert decode_datetime_cursor(encode_cursor(moment, 42)) == (moment, 42)
    assert decode_cursor(encode_cursor("a@example.com", 7)) == ("a@example.com", 7)
    assert decode_cursor(encode_cursor(None, 1)) == (None, 1)


@pytest.mark.parametrize(
    "key",
    [
        datetime(2026, 2, 18, 10, 0, 0, 6000, tzinfo=UTC),
        datetime(2026, 2, 18, 10, 0, tzinfo=UTC),
        datetime(2026, 2, 18, 10, 0, 0, 1),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        "åsa@example.com",
        'a"b\\c\n@example.com',
        12,
        -(2**63),
        None,
    ],
)
def test_a_cursor_is_the_base64_of_compact_json(key: datetime | str | int | None) -> None:
    stored = key.isoformat() if isinstance(key, datetime) else key
    raw = json.dumps([stored, 9961], separators=(",", ":")).encode()

    assert encode_cursor(key, 9961) == base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("first", [0, -1, 101, -(2**40)])
def test_page_sizes_outside_the_bounds_are_refused(first: int) -> None:
    with pytest.raises(BadRequest):
        page_size(first, maximum=100)


def test_a_cursor_for_another_key_type_is_refused() -> None:
    with pytest.raises(BadRequest):
        decode_datetime_cursor(encode_cursor(5, 1))
