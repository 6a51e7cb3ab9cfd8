"""The mailer during a database outage: what it keeps in memory until the database is back.

Two kinds of rows. Rows never handed to the SMTP server (not started, or refused before DATA)
are put back as they were claimed as soon as the database answers, instead of waiting out their
lease. And the outcome of a send the server answered, "delivered" above all, is kept and its
write retried (`keep_trying`) for as long as the row's lease lasts: written later, it still
matches the row (the write is fenced by the lease), so an outage shorter than the lease sends
nothing twice. Past the lease, the row is left as before: in SENDING, rescued as in doubt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from domain.outage import PROBE_INTERVAL_SECONDS, Outage, is_database_unavailable
from mailer.outbox import Claimed

T = TypeVar("T")


class NotHandedOver(Exception):
    """The database went away before this row's message reached the server: put it back."""

    def __init__(self, row: Claimed) -> None:
        super().__init__(f"invitation {row.id} was not sent")
        self.row = row


async def keep_trying(
    write: Callable[[], Awaitable[T]],
    *,
    within: float,
    outage: Outage,
    interval: float = PROBE_INTERVAL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """`write()`, tried again every `interval` seconds while the database is unreachable, for up
    to `within` seconds; past that, or on any other error, the error is raised."""
    deadline = clock() + within
    while True:
        try:
            return await write()
        except Exception as error:
            if not is_database_unavailable(error) or clock() + interval > deadline:
                raise
            outage.begin(error)
            await asyncio.sleep(interval)
