"""The invitation table as the mailer's outbox: claiming due rows and recording each outcome.

A claim gives a batch of rows one lease (an id and an expiry, on the database clock). Every later
write names the row *and* the lease, so a worker whose lease expired and was taken over cannot
overwrite the new holder: its writes match nothing and return False. A row is `SENDING` only from
just before its DATA to its recorded outcome: a claimed row found in `SENDING` was left there by a
worker that died mid-send, and its outcome is unknown.

Each recorded change of a row's delivery state (or status) is published for live updates once
its statement committed: on SQLite through events.publish after the write; on PostgreSQL by a
NOTIFY folded into the write's own statement (events.postgres.notifying), which PostgreSQL
delivers at commit: one round trip per write instead of two.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import aiosqlite
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

import events
from domain import webhooks
from domain.invitations import open_sql
from events.broker import Change
from events.postgres import NOTIFY_ROW, notifying
from models.invitation import SYSTEM_ACTOR, DeliveryState
from models.webhooks import WebhookEventType

P = ParamSpec("P")
T = TypeVar("T")

CONNECTION = "default"
_COLUMNS = (
    "id, email, message, store_view_id, inviter_id, code_nonce, delivery_state, attempts, "
    "message_id, send_number, traceparent"
)
_DUE = (
    "delivery_state IN ('QUEUED', 'SENDING')"
    " AND (next_attempt_at IS NULL OR next_attempt_at <= {now})"
    " AND (lease_expires_at IS NULL OR lease_expires_at <= {now})"
)
_FENCE = "WHERE id = ? AND lease_id = ?"
_CLEAR_LEASE = "lease_id = NULL, lease_expires_at = NULL"


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row this worker holds the lease of, with what sending it needs."""

    id: int
    lease_id: str
    email: str
    message: str | None
    store_view_id: int
    inviter_id: int | None
    code_nonce: str
    attempts: int
    message_id: str | None
    send_number: int
    # The trace of the request that queued the send (domain/tracing.py), if it was traced.
    traceparent: str | None
    # Found in SENDING: a worker died mid-send, so the server may already have the message.
    in_doubt: bool


class _Sql:
    """The two dialects' spelling of the database clock and of parameters."""

    def __init__(self, client: BaseDBAsyncClient | None = None) -> None:
        """The dialect of `client`; SQLite's without one."""
        self.postgres = client is not None and client.capabilities.dialect == "postgres"

    def now(self) -> str:
        return "clock_timestamp()" if self.postgres else self.now_sqlite()

    @staticmethod
    def now_sqlite() -> str:
        # Tortoise stores SQLite datetimes as "YYYY-MM-DD HH:MM:SS.ffffff+00:00": compare alike.
        return "(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000+00:00')"

    def later(self) -> str:
        """The clock plus a number of seconds given as the next parameter."""
        if self.postgres:
            return "(clock_timestamp() + make_interval(secs => ?))"
        return "(strftime('%Y-%m-%d %H:%M:%f', 'now', ?) || '000+00:00')"

    def seconds(self, value: float) -> Any:
        return float(value) if self.postgres else f"{value:+.3f} seconds"

    def query(self, sql: str) -> str:
        if not self.postgres:
            return sql
        pieces = sql.split("?")
        numbered = [f"{piece}${i}" for i, piece in enumerate(pieces[:-1], start=1)]
        return "".join(numbered) + pieces[-1]


# The same dialect helpers serve the other outbox the workers drain (mailer/webhooks.py).
Sql = _Sql


def _client() -> BaseDBAsyncClient:
    return connections.get(CONNECTION)


async def _write(sql: str, params: Sequence[Any], client: BaseDBAsyncClient | None = None) -> int:
    """The rows the statement wrote, counted from its RETURNING rows: Tortoise's SQLite rowcount
    (total_changes) would also count the rows the invitation_count triggers write."""
    client = client or _client()
    rows = await client.execute_query_dict(
        _Sql(client).query(f"{sql} RETURNING 1 AS written"), list(params)
    )
    return len(rows)


async def _record(
    row: Claimed, sql: str, params: Sequence[Any], event: WebhookEventType | None = None
) -> bool:
    """Run one fenced write of `row` and publish it; whether it matched the row (still ours).
    With `event`, the write and the event's webhook deliveries share one transaction."""
    if event is not None:
        async with in_transaction(CONNECTION):
            matched = await _fenced(sql, params)
            if matched:
                await webhooks.record(event, [row.id])
    else:
        matched = await _fenced(sql, params)
    if matched and not _Sql(_client()).postgres:
        await events.changed(row.id, row.inviter_id)
    return matched


async def _fenced(sql: str, params: Sequence[Any]) -> bool:
    """One fenced write; on PostgreSQL its NOTIFY rides along (delivered at commit)."""
    client = _client()
    dialect = _Sql(client)
    if dialect.postgres:
        rows = await client.execute_query_dict(
            dialect.query(notifying(f"{sql} RETURNING id, inviter_id")), list(params)
        )
        return int(rows[0]["changed"]) == 1
    return await _write(sql, params, client) == 1


async def claim(batch_size: int, lease_seconds: float) -> list[Claimed]:
    """Lease up to `batch_size` due rows, oldest first, in one statement."""
    client = _client()
    sql = _Sql(client)
    lease_id = str(uuid.uuid4())
    due = _DUE.format(now=sql.now())
    if sql.postgres:
        # The ids are picked once, as an array (an InitPlan): an IN (subquery) may be run again
        # and update more than n rows. Looked up by primary key through `= ANY`, the leased rows
        # cost the server less than a join with the picked rows (a CTE), which the planner
        # hashes against a scan of the whole table: 0.07-0.11 against 0.11-0.13 ms of server
        # CPU per claimed row, 100-row claims of 6,000 rows (docs/performance.md).
        statement = (
            f"UPDATE invitation AS i SET lease_id = ?, lease_expires_at = {sql.later()}"
            " WHERE i.id = ANY(ARRAY(SELECT id FROM invitation"
            f" WHERE {due} ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED))"
            f" RETURNING {', '.join('i.' + c.strip() for c in _COLUMNS.split(','))}"
        )
        params = [lease_id, sql.seconds(lease_seconds), batch_size]
    else:
        statement = (
            f"UPDATE invitation SET lease_id = ?, lease_expires_at = {sql.later()}"
            f" WHERE id IN (SELECT id FROM invitation WHERE {due} ORDER BY id LIMIT ?)"
            f" RETURNING {_COLUMNS}"
        )
        params = [lease_id, sql.seconds(lease_seconds), batch_size]
    rows = await client.execute_query_dict(sql.query(statement), params)
    claimed = [
        Claimed(
            id=row["id"],
            lease_id=lease_id,
            email=row["email"],
            message=row["message"],
            store_view_id=row["store_view_id"],
            inviter_id=row["inviter_id"],
            code_nonce=row["code_nonce"],
            attempts=row["attempts"],
            message_id=row["message_id"],
            send_number=row["send_number"],
            traceparent=row["traceparent"],
            in_doubt=row["delivery_state"] == DeliveryState.SENDING.value,
        )
        for row in rows
    ]
    return sorted(claimed, key=lambda row: row.id)


@dataclass(frozen=True, slots=True)
class Record:
    """One of the two writes of a send: its start (with its Message-ID) or its delivery."""

    row: Claimed
    # Set: mark the row SENDING for one more attempt, if still ours and still open, under a
    # lease renewed for lease_seconds. None: the server took the message; DELIVERED, and a first
    # delivery makes NOT_SENT SENT with a history row.
    message_id: str | None = None
    lease_seconds: float = 0.0

    @property
    def is_start(self) -> bool:
        return self.message_id is not None


async def start_sending(row: Claimed, message_id: str, lease_seconds: float) -> bool:
    """Mark the row SENDING (one more attempt) if it is still ours and still open."""
    return row.id in await record([Record(row, message_id, lease_seconds)])


async def delivered(row: Claimed) -> bool:
    """The server took the message: DELIVERED, and a first delivery makes NOT_SENT SENT."""
    return row.id in await record([Record(row)])


async def record(records: Sequence[Record]) -> set[int]:
    """Write these records together; the ids of the rows whose write matched (still ours).

    One transaction: one statement on PostgreSQL (its NOTIFYs included), one hop to the
    connection's thread on SQLite (Tortoise's lock on the connection keeps any other statement
    out meanwhile; a hop costs more CPU than the statements). A row is in at most one record.
    """
    client = _client()
    if _Sql(client).postgres:
        starts = [r for r in records if r.is_start]
        deliveries = [r for r in records if not r.is_start]
        rows = await client.execute_query_dict(
            _RECORD_POSTGRES,
            [
                [r.row.id for r in starts],
                [r.row.lease_id for r in starts],
                [r.message_id for r in starts],
                [float(r.lease_seconds) for r in starts],
                [r.row.id for r in deliveries],
                [r.row.lease_id for r in deliveries],
                SYSTEM_ACTOR,
            ],
        )
        return {row["id"] for row in rows}
    async with client.acquire_connection() as connection:
        matched = await in_connection_thread(connection, _record_sqlite, records)
    if matched:
        await events.publish(
            Change(r.row.id, r.row.inviter_id) for r in records if r.row.id in matched
        )
    return matched


_NOW_SQLITE = _Sql.now_sqlite()
_START_SQLITE = (
    "UPDATE invitation SET delivery_state = 'SENDING', attempts = attempts + 1, message_id = ?,"
    f" lease_expires_at = {_Sql().later()} {_FENCE} AND {open_sql(_NOW_SQLITE)}"
)
# The history row first, while the status still tells whether this is the first delivery.
_SENT_HISTORY_SQLITE = (
    "INSERT INTO invitation_status_change (invitation_id, status, at, actor)"
    f" SELECT id, 'SENT', {_NOW_SQLITE}, ? FROM invitation {_FENCE} AND status = 'NOT_SENT'"
)
_DELIVERED_SQLITE = (
    "UPDATE invitation SET delivery_state = 'DELIVERED', last_error = NULL,"
    f" sent_at = {_NOW_SQLITE}, next_attempt_at = NULL, {_CLEAR_LEASE},"
    " status = CASE WHEN status = 'NOT_SENT' THEN 'SENT' ELSE status END,"
    f" updated_at = CASE WHEN status = 'NOT_SENT' THEN {_NOW_SQLITE} ELSE updated_at END"
    f" {_FENCE}"
)


async def in_connection_thread(
    connection: aiosqlite.Connection,
    function: Callable[Concatenate[sqlite3.Connection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """`function(sqlite3_connection, ...)` run in the aiosqlite connection's own thread.

    A fence around aiosqlite's internals (`_execute`, `_conn`; aiosqlite 0.22.1, pinned in
    pyproject.toml), used nowhere else: aiosqlite has no public way to run several statements in
    one hop to its thread. Its public `execute`, statement by statement, cost 6-11 % more CPU per
    e-mail in bench/mailer.py. tests/mailer/test_outbox.py fails if aiosqlite changes under it.
    """
    return await connection._execute(function, connection._conn, *args, **kwargs)


def _record_sqlite(connection: sqlite3.Connection, records: Sequence[Record]) -> set[int]:
    """`record`'s transaction, run whole in the connection's own thread."""
    matched = set()
    first_deliveries = []
    connection.execute("BEGIN")
    try:
        for record in records:
            fence: list[Any] = [record.row.id, record.row.lease_id]
            if record.message_id is not None:
                lease = _Sql().seconds(record.lease_seconds)
                cursor = connection.execute(_START_SQLITE, [record.message_id, lease, *fence])
            else:
                first = connection.execute(_SENT_HISTORY_SQLITE, [SYSTEM_ACTOR, *fence])
                cursor = connection.execute(_DELIVERED_SQLITE, fence)
                if first.rowcount == 1:
                    first_deliveries.append(record.row.id)
            # (sqlite3's rowcount leaves out the rows the invitation_count triggers write.)
            if cursor.rowcount == 1:
                matched.add(record.row.id)
        if first_deliveries:
            # The invitation.sent webhook deliveries, in this transaction, once the rows read SENT.
            connection.execute(
                webhooks.RECORD_SQLITE,
                webhooks.record_parameters(
                    WebhookEventType.INVITATION_SENT, first_deliveries, postgres=False
                ),
            )
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return matched


# The invitation.sent webhook deliveries of first deliveries, read from the updated rows.
_SENT_WEBHOOKS_POSTGRES = webhooks.insert_sql(
    True,
    event=f"'{WebhookEventType.INVITATION_SENT.value}'::text",
    source="delivered AS i",
    where="i.was = 'NOT_SENT'",
)
# Both kinds of write for any number of rows in one statement. The NOTIFY of each changed row is
# part of it, so PostgreSQL delivers it at commit. The two parts touch different rows: a row is
# either about to be sent or just sent. Rows are found by primary key and locked first, and only
# then checked (status, expiry): a condition on the invitation itself would let the planner scan
# the status index instead, as it does when the statistics predate a bulk import.
# The arrays come in through sub-selects, `(SELECT $1::bigint[])`: given as they are, a custom
# plan counts their elements and always looks cheaper than the generic one, so PostgreSQL planned
# the statement again on every call, which cost more CPU than running it (0.7-1 ms a write;
# bench/mailer.py). With both plans estimating alike, the cached generic plan wins after five
# calls on a connection (tests/mailer/test_outbox.py checks pg_prepared_statements).
_RECORD_POSTGRES = f"""
WITH starting AS (
    SELECT i.id, s.message_id, s.lease_seconds, i.status, i.expires_at FROM invitation AS i
    JOIN unnest((SELECT $1::bigint[]), (SELECT $2::text[]), (SELECT $3::text[]),
        (SELECT $4::float8[]))
        AS s(id, lease_id, message_id, lease_seconds)
        ON i.id = s.id AND i.lease_id = s.lease_id
    ORDER BY i.id FOR UPDATE OF i
), started AS (
    UPDATE invitation AS i SET delivery_state = 'SENDING', attempts = i.attempts + 1,
        message_id = starting.message_id,
        lease_expires_at = clock_timestamp() + make_interval(secs => starting.lease_seconds)
    FROM starting WHERE i.id = starting.id AND {open_sql("clock_timestamp()", table="starting")}
    RETURNING i.id, i.inviter_id
), previous AS (
    SELECT i.id, i.status FROM invitation AS i
    JOIN unnest((SELECT $5::bigint[]), (SELECT $6::text[])) AS d(id, lease_id)
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
    RETURNING i.id, i.inviter_id, previous.status AS was, i.email, i.status, i.store_view_id,
        i.website_id, i.invitee_id, i.created_at, i.sent_at, i.accepted_at, i.expires_at
), history AS (
    INSERT INTO invitation_status_change (invitation_id, status, at, actor)
    SELECT id, 'SENT', clock_timestamp(), $7 FROM delivered WHERE was = 'NOT_SENT'
), webhook_events AS (
    {_SENT_WEBHOOKS_POSTGRES}
), changed AS (
    SELECT id, inviter_id FROM started UNION ALL SELECT id, inviter_id FROM delivered
)
SELECT id, {NOTIFY_ROW} FROM changed
"""


async def retry_later(row: Claimed, *, delay_seconds: float, reason: str) -> bool:
    """Back to QUEUED, due again after the delay."""
    sql = _Sql(_client())
    return await _record(
        row,
        f"UPDATE invitation SET delivery_state = 'QUEUED', last_error = ?,"
        f" next_attempt_at = {sql.later()}, {_CLEAR_LEASE} {_FENCE}",
        [reason, sql.seconds(delay_seconds), row.id, row.lease_id],
    )


async def settle(row: Claimed, state: DeliveryState, reason: str) -> bool:
    """A final outcome other than delivery: FAILED or UNKNOWN, with the reason."""
    assert state in (DeliveryState.FAILED, DeliveryState.UNKNOWN)
    return await _record(
        row,
        f"UPDATE invitation SET delivery_state = ?, last_error = ?,"
        f" next_attempt_at = NULL, {_CLEAR_LEASE} {_FENCE}",
        [state.value, reason, row.id, row.lease_id],
        WebhookEventType.INVITATION_DELIVERY_FAILED,
    )


async def give_back(row: Claimed, *, delay_seconds: float) -> bool:
    """Undo `start_sending` when the server was never reached: nothing was sent."""
    sql = _Sql(_client())
    state = DeliveryState.SENDING if row.in_doubt else DeliveryState.QUEUED
    return await _record(
        row,
        f"UPDATE invitation SET delivery_state = ?, attempts = attempts - 1,"
        f" next_attempt_at = {sql.later()}, {_CLEAR_LEASE} {_FENCE}",
        [state.value, sql.seconds(delay_seconds), row.id, row.lease_id],
    )


async def release(rows: Sequence[Claimed], *, delay_seconds: float = 0.0) -> None:
    """Give unsent rows back, as they were (attempts untouched), due again after the delay."""
    client = _client()
    sql = _Sql(client)
    for row in rows:
        await _write(
            f"UPDATE invitation SET next_attempt_at = {sql.later()}, {_CLEAR_LEASE} {_FENCE}",
            [sql.seconds(delay_seconds), row.id, row.lease_id],
            client,
        )


async def put_back(rows: Sequence[Claimed]) -> None:
    """Give rows never handed to the server back as they were claimed, due at once.

    After the database went away, a row's `start_sending` may or may not have been written:
    its state, attempts and Message-ID go back to what the claim read, whichever it was.
    """
    for row in rows:
        state = DeliveryState.SENDING if row.in_doubt else DeliveryState.QUEUED
        await _record(
            row,
            "UPDATE invitation SET delivery_state = ?, attempts = ?, message_id = ?,"
            f" next_attempt_at = NULL, {_CLEAR_LEASE} {_FENCE}",
            [state.value, row.attempts, row.message_id, row.id, row.lease_id],
        )


async def queue_depth() -> int:
    """Rows waiting to be sent or being sent."""
    rows = await _client().execute_query_dict(
        "SELECT count(*) AS n FROM invitation WHERE delivery_state IN ('QUEUED', 'SENDING')"
    )
    return int(rows[0]["n"])
