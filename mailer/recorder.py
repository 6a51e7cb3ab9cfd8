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
written, and each of its writes is retried on its own, so one row's problem is reported to that
row's lane only (unless the database is unreachable: then every write of the group fails with
that error, and the lanes ride the outage out, see mailer.outage). The SQL is mailer.outbox's
(`record`): a single write is a group of one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from domain.outage import is_database_unavailable
from mailer import outbox
from mailer.outbox import Claimed, Record

logger = logging.getLogger("invitations.mailer")


W = TypeVar("W")


@dataclass(slots=True)
class _Pending(Generic[W]):
    write: W
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Grouped(Generic[W]):
    """Writes grouped: those asked for while a group is being written wait for, and go into, the
    next group, one call of `write_all` for all. `write_all` returns the ids of the rows whose
    write matched; `row_id` names a write's row. A group that fails as a whole is written again
    write by write (unless the database is unreachable: then every write fails with that error).
    The mailer's Recorder and the webhook sender's outcomes both group through this."""

    def __init__(
        self,
        write_all: Callable[[list[W]], Awaitable[set[int]]],
        row_id: Callable[[W], int],
        what: str,
    ) -> None:
        self._write_all = write_all
        self._row_id = row_id
        self._what = what
        self._pending: list[_Pending[W]] = []
        self._writing: asyncio.Task[None] | None = None

    def write(self, write: W) -> asyncio.Future[bool]:
        """Whether the write matched its row (still ours), once its group is committed."""
        pending = _Pending(write)
        self._pending.append(pending)
        if self._writing is None:
            # Runs once the callers yield: what they asked for until then is one group.
            self._writing = asyncio.create_task(self._write_groups())
        return pending.done

    async def _write_groups(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                await self._write_group(group)
        finally:
            self._writing = None

    async def _write_group(self, group: list[_Pending[W]]) -> None:
        try:
            matched = await self._write_all([pending.write for pending in group])
        except Exception as error:  # each write is retried alone just below
            if len(group) == 1 or is_database_unavailable(error):
                # (alone, they would fail alike: their callers wait for the database instead)
                for pending in group:
                    _settle(pending, error=error)
                return
            logger.warning("a group of %d %s failed, writing each alone", len(group), self._what)
            for pending in group:
                await self._write_group([pending])
            return
        for pending in group:
            _settle(pending, result=self._row_id(pending.write) in matched)


def _settle(
    pending: _Pending[W], *, result: bool = False, error: BaseException | None = None
) -> None:
    if pending.done.done():  # its caller was cancelled
        return
    if error is not None:
        pending.done.set_exception(error)
    else:
        pending.done.set_result(result)


class Recorder:
    """One mailer's writes, grouped: `start_sending` and `delivered` of mailer.outbox, batched."""

    def __init__(self) -> None:
        self._group: Grouped[Record] = Grouped(
            outbox.record, lambda record: record.row.id, "mailer writes"
        )

    async def start_sending(self, row: Claimed, message_id: str, lease_seconds: float) -> bool:
        """outbox.start_sending: SENDING, one more attempt, if still ours and still open."""
        return await self._group.write(Record(row, message_id, lease_seconds))

    def delivered(self, row: Claimed) -> asyncio.Future[bool]:
        """outbox.delivered: DELIVERED, and a first delivery makes NOT_SENT SENT.

        Not awaited here: a lane that goes straight on to mark its next row SENDING puts both
        writes into the same group, and awaits this one once that start is written.
        """
        return self._group.write(Record(row))
