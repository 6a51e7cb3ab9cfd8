"""The bulk worker: runs the chunks of bulk operations (domain.bulk) beside the mailer.

Each worker handles one chunk at a time; any number of workers, in any processes, share the
operations safely (domain.bulk claims chunks). Mail a bulk RESEND queues goes out through the
normal outbox, sent by the mailer with its own limits.

Between two chunks a worker rests for `pause_ratio` times as long as the chunk took: the
operation then uses at most 1 / (1 + pause_ratio) of the worker's time and of the database
connection it writes through, and the API's requests, which share the machine and the database,
keep their latency while a million rows are discarded (bench/bulk.py measures both).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from domain import bulk

logger = logging.getLogger("invitations.bulk")


class BulkWorker:
    """Runs chunks until stopped; idle, it polls every `poll_seconds` (or is woken in-process)."""

    def __init__(
        self, *, poll_seconds: float, pause_ratio: float = 0.0, chunk_size: int = bulk.CHUNK_SIZE
    ) -> None:
        self.poll_seconds = poll_seconds
        self.pause_ratio = pause_ratio
        self.chunk_size = chunk_size
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the chunk under way, then return."""
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                result = await bulk.run_chunk(self.chunk_size)
            except (
                Exception
            ):  # logged by run_chunk (an outage by the mailer); it must not end the loop
                result = None
            if result is None:
                await self._idle()
            else:
                await self._rest((time.monotonic() - began) * self.pause_ratio)

    async def _rest(self, seconds: float) -> None:
        """Let the requests in between two chunks (always yield once; stop cuts the rest short)."""
        await asyncio.sleep(0)
        if seconds > 0 and not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _idle(self) -> None:
        woken = asyncio.ensure_future(bulk.wait_for_work(self.poll_seconds))
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({woken, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (woken, stopping):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
