"""Bulk operations, the grid's "Select All" (SPEC §12): discard or resend every invitation a grid
filter matches, in the background, a chunk at a time.

- `start` fixes the selection in the transaction that creates the operation: one
  INSERT … SELECT of the ids the filter matches then (less the excluded ones) into
  bulk_operation_item, so no id passes through Python and rows created later are not in it.
- `run_chunk` (called by the workers, mailer/bulk_worker.py) handles up to `CHUNK_SIZE` pending
  items of an operation in ONE transaction: it claims them (PostgreSQL: FOR UPDATE SKIP LOCKED, so
  workers share an operation; SQLite: a conditional UPDATE, which takes the database's write lock
  for the transaction), applies the per-id rules of discardInvitations / resendInvitations
  (domain.admin_batch) with the operation's actor, writes each item's outcome and the operation's
  counters. A crash rolls the whole chunk back: its items are pending again, and each invitation
  is handled exactly once. The events are published after the commit.
- `cancel` stops an operation between chunks: a chunk whose final write finds the operation no
  longer active rolls back, so nothing changes after a cancel committed.

Decisions where the spec is silent:
- An empty selection completes at once (COMPLETED, total 0).
- A chunk that fails with an unexpected error is tried again; after `MAX_FAILURES` failures in a
  row the operation is FAILED (its handled items stay handled).
- At most `MAX_EXCLUDE_IDS` excluded ids; a malformed one is INVALID_INPUT at its index.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from domain import admin_batch, sql
from domain.admin_invitations import admin_actor
from domain.clock import utcnow
from domain.errors import InvalidInput, InvalidStatus, NotFound
from domain.grid import GridFilter
from domain.ids import parse_id
from domain.outage import is_database_unavailable
from domain.pagination import Ordering, Page, fetch_ordered_page
from models.accounts import AdminUser
from models.bulk import (
    ACTIVE_STATUSES,
    BulkAction,
    BulkOperation,
    BulkOperationItem,
    BulkStatus,
    ItemState,
)
from models.invitation import Invitation

logger = logging.getLogger("invitations.bulk")

# Items per chunk: one transaction each. Discarding is one UPDATE per chunk; the IN lists of the
# rules stay far below both databases' parameter limits.
CHUNK_SIZE = 500
MAX_EXCLUDE_IDS = 10_000
MAX_FAILURES = 3

_work = asyncio.Event()


def work_queued() -> None:
    """Wake this process's bulk worker (others find the operation by polling)."""
    _work.set()


async def wait_for_work(timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_work.wait(), timeout)
    _work.clear()


def _excluded(raw: Sequence[str]) -> list[int]:
    if len(raw) > MAX_EXCLUDE_IDS:
        raise InvalidInput(f"At most {MAX_EXCLUDE_IDS} excluded ids.", field=("exclude_ids",))
    return sorted({parse_id(value, field=("exclude_ids", i)) for i, value in enumerate(raw)})


def _parameterized(query: Any) -> tuple[str, list[Any]]:
    """The SQL of a Tortoise query with its parameters. Tortoise's public `sql()` gives either the
    text without its parameters or the parameters inlined; this reads both from the built query
    (tortoise-orm 1.1: `_make_query`, `query.get_parameterized_sql`; pinned in pyproject)."""
    query._choose_db_if_not_chosen()
    query._make_query()
    text, params = query.query.get_parameterized_sql()
    return str(text), list(params)


_SELECT_INTO = (
    "INSERT INTO bulk_operation_item (operation_id, invitation_id, state)"
    " SELECT {operation}, picked.*, 0 FROM ({select}) AS picked"
)


async def start(
    *, admin: AdminUser, action: BulkAction, where: GridFilter, exclude_ids: Sequence[str]
) -> BulkOperation:
    """A new operation on what `where` matches now (less `exclude_ids`), QUEUED for the workers;
    InvalidInput at ("filter", …) or ("exclude_ids", i) for a bad selection."""
    now = utcnow()
    condition = where.condition(now)
    excluded = _excluded(exclude_ids)
    selected = Invitation.filter(condition)
    if excluded:
        selected = selected.exclude(id__in=excluded)
    select, params = _parameterized(selected.order_by("id").values_list("id"))
    async with in_transaction() as db:
        operation = await BulkOperation.create(
            action=action, actor=admin_actor(admin), created_at=now, updated_at=now, using_db=db
        )
        # The operation's id is ours (an integer), the rest is the ORM's parameterized query.
        insert = _SELECT_INTO.format(operation=int(operation.id), select=select)
        await db.execute_query(insert, params)
        operation.total = (
            await BulkOperationItem.filter(operation_id=operation.id).using_db(db).count()
        )
        fields = ["total"]
        if operation.total == 0:
            operation.status, operation.finished_at = BulkStatus.COMPLETED, now
            fields += ["status", "finished_at"]
        await operation.save(update_fields=fields, using_db=db)
    work_queued()
    return operation


async def find(raw_id: str) -> BulkOperation | None:
    row_id = parse_id(raw_id, field=("id",))
    return await BulkOperation.get_or_none(id=row_id)


async def page(*, first: int, after: int | None) -> Page[BulkOperation]:
    """Operations newest first; `after` is the id of the last one seen."""
    return await fetch_ordered_page(
        BulkOperation.all(),
        ordering=Ordering("id", descending=True, nullable=False),
        first=first,
        after=(after, after) if after is not None else None,
    )


async def skipped_items(
    operation: BulkOperation, *, first: int, after: int | None
) -> Page[BulkOperationItem]:
    """The operation's skipped items in the order handled; `after` is an item's id."""
    found = await fetch_ordered_page(
        BulkOperationItem.filter(operation_id=operation.id, state=ItemState.SKIPPED),
        ordering=Ordering("id", descending=False, nullable=False),
        first=first,
        after=(after, after) if after is not None else None,
    )

    async def count() -> int:
        return await BulkOperationItem.filter(
            operation_id=operation.id, state=ItemState.SKIPPED
        ).count()

    return Page(
        rows=found.rows,
        has_next_page=found.has_next_page,
        has_previous_page=found.has_previous_page,
        keys=found.keys,
        query=found.query,
        counter=count,
    )


async def cancel(*, raw_id: str) -> BulkOperation:
    """CANCELED between chunks; NotFound, or InvalidStatus once it has ended."""
    row_id = parse_id(raw_id, field=("id",))
    now = utcnow()
    changed = await BulkOperation.filter(id=row_id, status__in=list(ACTIVE_STATUSES)).update(
        status=BulkStatus.CANCELED, finished_at=now, updated_at=now
    )
    operation = await BulkOperation.get_or_none(id=row_id)
    if operation is None:
        raise NotFound("No such bulk operation.", field=("id",))
    if not changed:
        raise InvalidStatus(
            f"Only a QUEUED or RUNNING operation can be canceled; this one is "
            f"{operation.status.value}.",
            field=("id",),
        )
    return operation


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What one chunk did."""

    operation_id: int
    handled: int
    status: BulkStatus


class _Stopped(Exception):
    """The operation was canceled (or ended) while the chunk ran: roll the chunk back."""


async def run_chunk(size: int = CHUNK_SIZE) -> ChunkResult | None:
    """Handle one chunk of the oldest active operation that has pending items; None: no work."""
    active = await BulkOperation.filter(status__in=list(ACTIVE_STATUSES)).order_by("id")
    for operation in active:
        try:
            result = await _chunk(operation, size)
        except _Stopped:
            return ChunkResult(operation.id, 0, BulkStatus.CANCELED)
        except Exception as error:
            if is_database_unavailable(error):
                raise  # not the chunk's fault: the worker waits for the database (no log, no count)
            logger.exception("a chunk of bulk operation %s failed", operation.id)
            await _failed(operation.id)
            raise
        if result is not None:
            return result
    return None


_CLAIM_POSTGRES = (
    "WITH picked AS MATERIALIZED (SELECT id FROM bulk_operation_item"
    " WHERE operation_id = ? AND state = 0 ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED)"
    " UPDATE bulk_operation_item AS b SET state = 3 FROM picked WHERE b.id = picked.id"
    " RETURNING b.id, b.invitation_id"
)
_CLAIM_SQLITE = (
    "UPDATE bulk_operation_item SET state = 3 WHERE id IN (SELECT id FROM bulk_operation_item"
    " WHERE operation_id = ? AND state = 0 ORDER BY id LIMIT ?) AND state = 0"
    " RETURNING id, invitation_id"
)
# Fixed SQL; `ids` is a list of `?` marks.
_DONE = "UPDATE bulk_operation_item SET state = 1 WHERE id IN ({ids})"
_SKIPPED = "UPDATE bulk_operation_item SET state = 2, code = ?, message = ? WHERE id = ?"
_PROGRESS = (
    "UPDATE bulk_operation SET processed = processed + ?, succeeded = succeeded + ?,"
    " skipped = skipped + ?, failures = 0, updated_at = ?,"
    " status = CASE WHEN processed + ? >= total THEN 'COMPLETED' ELSE 'RUNNING' END"
    " WHERE id = ? AND status IN ('QUEUED', 'RUNNING') RETURNING status"
)


async def _chunk(operation: BulkOperation, size: int) -> ChunkResult | None:
    judged = admin_batch.Judged()
    async with in_transaction() as db:
        claim = _CLAIM_POSTGRES if sql.is_postgres(db) else _CLAIM_SQLITE
        claimed = sorted(await sql.rows(db, claim, [operation.id, size]), key=lambda r: r["id"])
        if not claimed:
            return None
        item_of = {int(r["invitation_id"]): int(r["id"]) for r in claimed}
        invitation_ids = list(item_of)
        now = utcnow()
        if operation.action is BulkAction.DISCARD:
            for part in admin_batch.chunks(invitation_ids):
                await admin_batch.discard_rows(part, actor=operation.actor, now=now, into=judged)
        else:
            await admin_batch.resend_rows(
                invitation_ids, actor=operation.actor, now=now, into=judged
            )
        done = [item_of[i] for i in judged.done]
        for part in admin_batch.chunks(done):
            await sql.rows(db, _DONE.format(ids=sql.marks(len(part))), part)
        if judged.refused:
            await db.execute_many(
                sql.numbered(db, _SKIPPED),
                [[e.code, e.message, item_of[i]] for i, e in judged.refused.items()],
            )
        handled, at = len(claimed), sql.moment(db, now)
        progress = [handled, len(done), len(judged.refused), at, handled, operation.id]
        written = await sql.rows(db, _PROGRESS, progress)
        if not written:
            raise _Stopped()
        status = BulkStatus(written[0]["status"])
        if status is BulkStatus.COMPLETED:
            await BulkOperation.filter(id=operation.id).using_db(db).update(finished_at=now)
    await admin_batch.announce(judged)
    return ChunkResult(operation.id, handled, status)


async def _failed(operation_id: int) -> None:
    """Count a failed chunk; FAILED after MAX_FAILURES in a row."""
    now = utcnow()
    with contextlib.suppress(Exception):  # the database may be what failed
        async with in_transaction():
            operation = await BulkOperation.get_or_none(id=operation_id)
            if operation is None or operation.status not in ACTIVE_STATUSES:
                return
            operation.failures += 1
            operation.updated_at = now
            if operation.failures >= MAX_FAILURES:
                operation.status, operation.finished_at = BulkStatus.FAILED, now
            await operation.save(update_fields=["failures", "updated_at", "status", "finished_at"])
