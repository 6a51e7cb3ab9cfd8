"""A bulk worker process that kills itself with SIGKILL in the middle of a chunk (run by
test_bulk_processes): after `chunks` chunks committed, inside the next one's transaction, once
its rules have written.

Usage: python -m tests.mailer.crash_bulk_worker CHUNKS CHUNK_SIZE
with the INVITATIONS_* environment of the test database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from cli.database import database
from config import Settings
from domain import admin_batch, bulk


async def main(chunks: int, size: int) -> None:
    discard_rows = admin_batch.discard_rows
    calls = 0

    async def dying(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        await discard_rows(*args, **kwargs)
        calls += 1
        if calls > chunks:  # the rules of this chunk wrote; its transaction is still open
            os.kill(os.getpid(), signal.SIGKILL)

    admin_batch.discard_rows = dying  # type: ignore[assignment]
    settings = Settings()
    async with database(settings.tortoise_config()):
        while await bulk.run_chunk(size) is not None:
            pass
    sys.exit("the crash point was never reached")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
