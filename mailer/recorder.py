"""Group commit for the mailer's two writes per e-mail: SENDING before it, DELIVERED after it.

Every lane still writes its row at the same points: it marks the row SENDING and waits until that
is committed before talking to the server, and asks for the delivery's record right after the
server's 250. That record goes into the same group as the lane's next SENDING, so it is committed
before the lane's next send (or awaited on its own when there is no next row). What grouping adds
is that writes asked for while a group is being written wait for, and go into, the next group:
one transaction and one trip to the database (one statement on PostgreSQL) for all of them, a few
writes per group with two lanes per SMTP connection.

Each write stays fenced by its own row's lease and reports whether it matched, exactly like the
single-row writes of mailer.outbox. When a group fails as a whole (a deadlock with another writer's
count-trigger updates on PostgreSQL, a locked SQLite file past its timeout), nothing of it was
written, and each of its writes is retried on its own through mailer.outbox, so one row's problem
is reported to that row's lane only.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from tortoise import connections

import events
from events.broker import Change
from events.postgres import CHANNEL
from mailer import outbox
from mailer.outbox import Claimed
from models.invitation import SYSTEM_ACTOR

logger = logging.getLogger("invitations.mailer")

# Both kinds of write for any number of rows in one statement. The NOTIFY of each changed row is
# part of it, so PostgreSQL delivers it at commit. The two parts touch different rows: a row is
# either about to be sent or just sent. Rows are found by primary key and locked first, and only
# then checked (status, expiry): a condition on the invitation itself would let the planner scan
# the status index instead, as it does when the statistics predate a bulk import.
_GROUP_POSTGRES = f"""
WITH starting AS (
    SELECT i.id, s.message_id, s.lease_seconds, i.status, i.expires_at FROM invitation AS i
    JOIN unnest($1::bigint[], $2::text[], $3::text[], $4::float8[])
        AS s(id, lease_id, message_id, lease_seconds)
        ON i.id = s.id AND i.lease_id = s.lease_id
    ORDER BY i.id FOR UPDATE OF i
), started AS (
    UPDATE invitation AS i SET delivery_state = 'SENDING', attempts = i.attempts + 1,
        message_id = starting.message_id,
        lease_expires_at = clock_timestamp() + make_interval(secs => starting.lease_seconds)
    FROM starting WHERE i.id = starting.id AND starting.status IN ('NOT_SENT', 'SENT')
        AND (starting.expires_at IS NULL OR starting.expires_at > clock_timestamp())
    RETURNING i.id, i.inviter_id
), previous AS (
    SELECT i.id, i.status FROM invitation AS i
    JOIN unnest($5::bigint[], $6::text[]) AS d(id, lease_id)
        ON i.id = d.id AND i.lease_id = d.lease_id
    ORDER BY i.id FOR UPDATE OF i
), delivered AS (
    UPDATE invitation AS i SET delivery_state = 'DELIVERED', last_error = NULL,
        sent_at = clock_timestamp(), next_attempt_at = NULL, lease_id = NULL,
        lease_expires_at = NULL,
        status = CASE WHEN previous.status = 'NOT_SENT' THEN 'SENT' ELSE i.status END,
        updated_at = CASE WHEN previous.status = 'NOT_SENT' THEN clock_timestamp()
                          ELSE i.updated_at END
    FROM previous WHERE i.id = previous.id
    RETURNING i.id, i.inviter_id, previous.status AS was
), history AS (
    INSERT INTO invitation_status_change (invitation_id, status, at, actor)
    SELECT id, 'SENT', clock_timestamp(), $7 FROM delivered WHERE was = 'NOT_SENT'
), changed AS (
    SELECT id, inviter_id, true AS started FROM started
    UNION ALL SELECT id, inviter_id, false FROM delivered
)
SELECT id, started,
    pg_notify('{CHANNEL}', '[[' || id || ',' || coalesce(inviter_id::text, 'null') || ']]')
FROM changed
"""  # noqa: S608 (fixed text: CHANNEL is a constant, every value is a parameter)


@dataclass(slots=True)
class _Write:
    row: Claimed
    # A start carries its Message-ID and lease; a delivery carries neither.
    message_id: str | None = None
    lease_seconds: float = 0.0
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def is_start(self) -> bool:
        return self.message_id is not None


class Recorder:
    """One mailer's writes, grouped: `start_sending` and `delivered` of mailer.outbox, batched."""

    def __init__(self) -> None:
        self._pending: list[_Write] = []
        self._writing: asyncio.Task[None] | None = None

    async def start_sending(self, row: Claimed, message_id: str, lease_seconds: float) -> bool:
        """outbox.start_sending: SENDING, one more attempt, if still ours and still open."""
        return await self._enqueue(_Write(row, message_id, lease_seconds))

    def delivered(self, row: Claimed) -> asyncio.Future[bool]:
        """outbox.delivered: DELIVERED, and a first delivery makes NOT_SENT SENT.

        Not awaited here: a lane that goes straight on to mark its next row SENDING puts both
        writes into the same group, and awaits this one once that start is written.
        """
        return self._enqueue(_Write(row))

    def _enqueue(self, write: _Write) -> asyncio.Future[bool]:
        self._pending.append(write)
        if self._writing is None:
            # Runs once the lanes yield: what they asked for until then is one group.
            self._writing = asyncio.create_task(self._write_groups())
        return write.done

    async def _write_groups(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                await self._write_group(group)
        finally:
            self._writing = None

    async def _write_group(self, group: list[_Write]) -> None:
        try:
            matched = await _write(group)
        except Exception as error:  # each write is retried alone just below
            if len(group) == 1:
                _settle(group[0], error=error)
                return
            logger.warning("a group of %d mailer writes failed, writing each alone", len(group))
            for write in group:
                await _write_alone(write)
            return
        for write in group:
            _settle(write, result=write.row.id in matched)


def _settle(write: _Write, *, result: bool = False, error: BaseException | None = None) -> None:
    if write.done.done():
        return
    if error is not None:
        write.done.set_exception(error)
    else:
        write.done.set_result(result)


async def _write_alone(write: _Write) -> None:
    try:
        if write.message_id is not None:
            result = await outbox.start_sending(write.row, write.message_id, write.lease_seconds)
        else:
            result = await outbox.delivered(write.row)
    except Exception as error:  # handed to the lane that asked
        _settle(write, error=error)
    else:
        _settle(write, result=result)


async def _write(group: list[_Write]) -> set[int]:
    """Write the group in one transaction; the ids of the rows whose write matched."""
    client = connections.get(outbox.CONNECTION)
    if client.capabilities.dialect == "postgres":
        starts = [w for w in group if w.is_start]
        deliveries = [w for w in group if not w.is_start]
        rows = await client.execute_query_dict(
            _GROUP_POSTGRES,
            [
                [w.row.id for w in starts],
                [w.row.lease_id for w in starts],
                [w.message_id for w in starts],
                [float(w.lease_seconds) for w in starts],
                [w.row.id for w in deliveries],
                [w.row.lease_id for w in deliveries],
                SYSTEM_ACTOR,
            ],
        )
        return {row["id"] for row in rows}
    # SQLite: the whole transaction in one hop to the connection's thread (see outbox.delivered;
    # Tortoise's lock on the connection keeps any other statement out meanwhile).
    async with client.acquire_connection() as connection:
        matched: set[int] = await connection._execute(_write_sqlite, connection._conn, group)
    if matched:
        await events.publish(
            Change(w.row.id, w.row.inviter_id) for w in group if w.row.id in matched
        )
    return matched


def _write_sqlite(connection: sqlite3.Connection, group: list[_Write]) -> set[int]:
    sqlite = outbox.Sql()
    start = outbox.start_sending_statement(sqlite)
    matched = set()
    connection.execute("BEGIN")
    try:
        for write in group:
            row = write.row
            fence: list[Any] = [row.id, row.lease_id]
            if write.message_id is not None:
                later = sqlite.seconds(write.lease_seconds)
                cursor = connection.execute(start, [write.message_id, later, *fence])
            else:
                connection.execute(outbox.SENT_HISTORY_SQLITE, [SYSTEM_ACTOR, *fence])
                cursor = connection.execute(outbox.DELIVERED_SQLITE, fence)
            if cursor.rowcount == 1:
                matched.add(row.id)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return matched
