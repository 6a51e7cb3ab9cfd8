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
from dataclasses import dataclass, field

from domain.outage import is_database_unavailable
from mailer import outbox
from mailer.outbox import Claimed, Record

logger = logging.getLogger("invitations.mailer")


@dataclass(slots=True)
class _Write:
    record: Record
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Recorder:
    """One mailer's writes, grouped: `start_sending` and `delivered` of mailer.outbox, batched."""

    def __init__(self) -> None:
        self._pending: list[_Write] = []
        self._writing: asyncio.Task[None] | None = None

    async def start_sending(self, row: Claimed, message_id: str, lease_seconds: float) -> bool:
        """outbox.start_sending: SENDING, one more attempt, if still ours and still open."""
        return await self._enqueue(Record(row, message_id, lease_seconds))

    def delivered(self, row: Claimed) -> asyncio.Future[bool]:
        """outbox.delivered: DELIVERED, and a first delivery makes NOT_SENT SENT.

        Not awaited here: a lane that goes straight on to mark its next row SENDING puts both
        writes into the same group, and awaits this one once that start is written.
        """
        return self._enqueue(Record(row))

    def _enqueue(self, record: Record) -> asyncio.Future[bool]:
        write = _Write(record)
        self._pending.append(write)
        if self._writing is None:
            # Runs once the lanes yield: what they asked for until then is one group.
            self._writing = asyncio.create_task(self._write_groups())
        return write.done

    async def _write_groups(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                await _write_group(group)
        finally:
            self._writing = None


async def _write_group(group: list[_Write]) -> None:
    try:
        matched = await outbox.record([write.record for write in group])
    except Exception as error:  # each write is retried alone just below
        if len(group) == 1 or is_database_unavailable(error):
            # (alone, they would fail alike: their lanes wait for the database instead)
            for write in group:
                _settle(write, error=error)
            return
        logger.warning("a group of %d mailer writes failed, writing each alone", len(group))
        for write in group:
            await _write_group([write])
        return
    for write in group:
        _settle(write, result=write.record.row.id in matched)


def _settle(write: _Write, *, result: bool = False, error: BaseException | None = None) -> None:
    if write.done.done():  # its lane was cancelled
        return
    if error is not None:
        write.done.set_exception(error)
    else:
        write.done.set_result(result)
