"""The project's date-time field: Tortoise's, reading SQLite's text with the standard library.

SQLite has no date-time type: Tortoise stores `datetime.isoformat(" ")` text and, reading a row,
parses it back with the iso8601 package, about 28 µs a value, where `datetime.fromisoformat`
(C, Python 3.11) takes under 1 µs. A page of 20 invitations carries some hundred date-times, so
the parse was the largest single cost of a read on SQLite (docs/performance.md, "Dates on
SQLite"). This field parses the text Tortoise itself writes with `fromisoformat` and leaves
everything else (PostgreSQL's native values, integers, text in another shape) to Tortoise, so
the values are the same to the tzinfo: aware, in the configured zone (`ZoneInfo("UTC")`).

It overrides `DatetimeField.to_python_value`, the hook Tortoise documents for custom fields;
tortoise-orm is pinned in pyproject.toml, and tests/models/test_fields.py compares this field
with Tortoise's on both databases and on hostile text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise import fields, timezone


class DatetimeField(fields.DatetimeField):
    def to_python_value(self, value: Any) -> datetime | None:
        if type(value) is str and timezone.get_use_tz():
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return super().to_python_value(value)
            zone = timezone.get_default_timezone()
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=zone)
            return parsed.astimezone(zone)
        return super().to_python_value(value)
