"""Opening the database and applying the committed migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate as migrate_api


def ensure_sqlite_directory(database_url: str) -> None:
    if database_url.startswith("sqlite://"):
        target = database_url.removeprefix("sqlite://").split("?", 1)[0]
        if target and target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)


async def migrate(config: dict[str, Any]) -> None:
    """Apply every committed migration that the database has not seen yet."""
    connection = config["connections"]["default"]
    if isinstance(connection, str):  # PostgreSQL's is a dict (config.tortoise_config)
        ensure_sqlite_directory(connection)
    async with TortoiseContext() as ctx:
        await ctx.init(config=config, init_connections=False)
        await migrate_api(config=config)


@asynccontextmanager
async def database(config: dict[str, Any]) -> AsyncIterator[TortoiseContext]:
    """Tortoise opened for a command-line task."""
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        yield ctx
