"""Events between processes on PostgreSQL: NOTIFY to publish, one LISTEN connection per process.

Publishers send `NOTIFY` through Tortoise's pool after their transaction committed, or fold it
into a single write's own statement (`notifying`: one round trip, delivered at commit). Each serving
process keeps one dedicated asyncpg connection (not from the pool: a pooled connection would be
handed to requests and lose its LISTEN) that hands every notification to the local broker. The
process's own changes come back the same way, so each change reaches each subscriber once.

When the LISTEN connection drops, the listener reconnects with a backoff and listens again;
changes made while it was away are not replayed (a client re-reads its list after a reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from tortoise import connections

from events.broker import Broker, Change

logger = logging.getLogger("invitations.events")

CHANNEL = "invitation_changes"
# PostgreSQL refuses payloads of 8,000 bytes or more: a few hundred id pairs stay well below.
CHANGES_PER_NOTIFY = 300
# Query parameters of Tortoise's URL that configure its pool, not the server connection.
_POOL_PARAMETERS = {"minsize", "maxsize", "max_queries", "max_inactive_connection_lifetime"}


def encode(changes: Sequence[Change]) -> str:
    return json.dumps([[c.invitation_id, c.inviter_id] for c in changes], separators=(",", ":"))


def decode(payload: str) -> list[Change]:
    """The changes of one notification; nothing for a payload that is not ours."""
    try:
        pairs = json.loads(payload)
        return [
            Change(int(invitation), None if inviter is None else int(inviter))
            for invitation, inviter in pairs
        ]
    except (ValueError, TypeError):
        logger.warning("ignoring a malformed notification on %s", CHANNEL)
        return []


def notifying(statement: str) -> str:
    """`statement` (a write ending in `RETURNING id, inviter_id`), NOTIFYing each row it changed.

    One round trip instead of the write and then `notify`: PostgreSQL delivers a NOTIFY when its
    transaction commits, so listeners still learn of a change only once it is committed. The
    result is one row whose `changed` counts the rows written. Unlike `publish`, a NOTIFY that
    fails here fails the write; PostgreSQL refuses one only when its notification queue (8 GB) is
    full. The payload is `encode`'s, one change per notification.
    """
    return f"WITH changed AS ({statement}) {notify_each('changed')}"


# An SQL expression that NOTIFYs the row in scope (its `id` and `inviter_id`), payload as `encode`.
NOTIFY_ROW = (
    f"pg_notify('{CHANNEL}', '[[' || id || ',' || coalesce(inviter_id::text, 'null') || ']]')"
)


def notify_each(rows: str) -> str:
    """A SELECT that NOTIFYs each row (`id`, `inviter_id`) of `rows` and counts them as `changed`.

    For the end of a statement whose earlier parts (a CTE named `rows`) wrote those rows.
    """
    # Fixed fragments only: `rows` is the caller's CTE name, never a value.
    return f"SELECT count({NOTIFY_ROW}) AS changed FROM {rows}"  # noqa: S608


async def notify(changes: Sequence[Change]) -> None:
    client = connections.get("default")
    for start in range(0, len(changes), CHANGES_PER_NOTIFY):
        payload = encode(changes[start : start + CHANGES_PER_NOTIFY])
        await client.execute_query("SELECT pg_notify($1, $2)", [CHANNEL, payload])


def listener_dsn(database_url: str) -> str:
    """asyncpg's DSN for the database Tortoise uses, without Tortoise's pool parameters."""
    parts = urlsplit(database_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in _POOL_PARAMETERS]
    scheme = "postgresql" if parts.scheme in ("postgres", "asyncpg", "psycopg") else parts.scheme
    return urlunsplit(parts._replace(scheme=scheme, query=urlencode(query)))


class Listener:
    """Keeps one LISTEN connection open and feeds the broker from it."""

    def __init__(
        self,
        dsn: str,
        broker: Broker,
        *,
        health_check_seconds: float = 5.0,
        max_backoff_seconds: float = 10.0,
    ) -> None:
        self.dsn = dsn
        self.broker = broker
        self.health_check_seconds = health_check_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.listening = asyncio.Event()
        self.connections_made = 0
        self.backend_pid: int | None = None

    def _on_notification(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self.broker.deliver(decode(payload))

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._listen_until_lost()
                backoff = 0.1
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
                logger.warning("event listener connection lost (%s): reconnecting", error)
            self.listening.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_seconds)

    async def _listen_until_lost(self) -> None:
        connection = await asyncpg.connect(self.dsn, timeout=10)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            await connection.add_listener(CHANNEL, self._on_notification)
            self.connections_made += 1
            self.backend_pid = connection.get_server_pid()
            self.listening.set()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self.health_check_seconds)
                if not lost.is_set():
                    # A silently dead network path never terminates the connection by itself.
                    await connection.fetchval("SELECT 1", timeout=self.health_check_seconds)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 2)


@asynccontextmanager
async def listening(
    database_url: str, broker: Broker, *, start_timeout: float = 10.0
) -> AsyncIterator[Listener]:
    """A listener running beside the caller (the app's lifespan) until the block ends.

    Waits (up to `start_timeout`) for the first LISTEN, so a process that serves also listens; a
    database that is down at start only delays live updates, it does not stop the process.
    """
    listener = Listener(listener_dsn(database_url), broker)
    task = asyncio.create_task(listener.run(), name="invitations-event-listener")
    try:
        await asyncio.wait_for(listener.listening.wait(), start_timeout)
    except TimeoutError:
        logger.warning("no LISTEN connection yet: live updates wait for the database")
    try:
        yield listener
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
