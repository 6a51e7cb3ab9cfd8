"""The test PostgreSQL cluster of .ci/with-postgres, stopped and started by outage tests, and the
service's commands run as processes of their own against it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

import asyncpg
import pytest

from config import Settings
from tests.helpers import TEST_SECRET

ROOT = Path(__file__).resolve().parents[1]
PG_CTL = os.environ.get("INVITATIONS_TEST_PG_CTL", "")

needs_cluster = pytest.mark.skipif(
    not (PG_CTL and os.environ.get("INVITATIONS_TEST_DATABASE_URL", "").startswith("postgres")),
    reason="stops and restarts the database server: PostgreSQL only (run under .ci/with-postgres)",
)


def stop_database() -> None:
    """Kill the server at once, as a crash or a network cut would (no clean shutdown)."""
    subprocess.run([PG_CTL, "stop", "-m", "immediate"], check=True, capture_output=True)


def start_database() -> None:
    """Start it again; returns once it accepts connections."""
    subprocess.run([PG_CTL, "start"], check=True, capture_output=True)


@asynccontextmanager
async def durable_commits(database_url: str) -> AsyncIterator[None]:
    """synchronous_commit on, as in production, for sessions that start in the block.

    .ci/with-postgres runs the cluster with it off, for speed: then a killed server forgets the
    commits of its last few hundred milliseconds, and a mailer's "delivered" acknowledged by the
    server may be lost, which would be counted as the mailer's duplicate. (A database's setting
    outranks the server's command line, which ALTER SYSTEM does not.)
    """
    await _set_synchronous_commit(database_url, "SET synchronous_commit = on")
    try:
        yield
    finally:
        await _set_synchronous_commit(database_url, "RESET synchronous_commit")


async def _set_synchronous_commit(database_url: str, change: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        name = await connection.fetchval("SELECT current_database()")
        await connection.execute(f'ALTER DATABASE "{name}" {change}')
    finally:
        await connection.close()


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "INVITATIONS_DATABASE_URL": settings.database_url,
        "INVITATIONS_SECRET_KEY": TEST_SECRET,
        "INVITATIONS_PASSWORD_HASH_PROFILE": "cheapest",
        **extra,
    }


async def spawn(env: dict[str, str], log: IO[bytes], *args: str) -> asyncio.subprocess.Process:
    """`python -m cli <args>`, its standard error (its log) into `log`."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
    )
