"""The few statements the ORM cannot spell (UPDATE … RETURNING, INSERT … SELECT), in both dialects.

Statements are written with `?` parameters (SQLite's); on PostgreSQL they become `$1, $2, …`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient


def client() -> BaseDBAsyncClient:
    """The default connection, or the transaction under way in this task."""
    return connections.get("default")


def is_postgres(db: BaseDBAsyncClient) -> bool:
    return bool(db.capabilities.dialect == "postgres")


def numbered(db: BaseDBAsyncClient, sql: str) -> str:
    if not is_postgres(db):
        return sql
    pieces = sql.split("?")
    return "".join(f"{piece}${i}" for i, piece in enumerate(pieces[:-1], start=1)) + pieces[-1]


def moment(db: BaseDBAsyncClient, value: datetime) -> Any:
    """A datetime parameter: Tortoise stores SQLite datetimes as text of exactly this form, so
    comparisons in SQL stay comparisons of like strings."""
    if is_postgres(db):
        return value
    return value.isoformat(" ", timespec="microseconds")


def marks(count: int) -> str:
    """`?, ?, …` for an IN list of `count` values."""
    return ", ".join("?" * count)


async def rows(db: BaseDBAsyncClient, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    return list(await db.execute_query_dict(numbered(db, sql), list(params)))
