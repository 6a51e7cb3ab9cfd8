"""The bulk worker's loop (mailer/bulk_worker.py): chunk after chunk, and the rest between."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from domain import bulk
from domain.grid import GridFilter
from mailer.bulk_worker import BulkWorker
from models.bulk import BulkAction, BulkOperation, BulkStatus
from tests.domain.test_bulk import make_many
from tests.helpers import make_admin
from tests.mailer.conftest import eventually


async def _operation(rows: int) -> int:
    await make_many(rows)
    operation = await bulk.start(
        admin=await make_admin(), action=BulkAction.DISCARD, where=GridFilter(), exclude_ids=[]
    )
    return operation.id


async def _processed(operation_id: int) -> int:
    return (await BulkOperation.get(id=operation_id)).processed


async def test_without_a_rest_the_chunks_follow_each_other_to_the_end(settings: Any) -> None:
    operation_id = await _operation(120)
    worker = BulkWorker(poll_seconds=0.05, pause_ratio=0, chunk_size=25)
    task = asyncio.create_task(worker.run())
    try:

        async def completed() -> bool:
            return (await BulkOperation.get(id=operation_id)).status is BulkStatus.COMPLETED

        await eventually(completed)
    finally:
        worker.stop()
        await task
    assert await _processed(operation_id) == 120


async def test_the_worker_rests_in_proportion_to_the_chunk_and_stop_cuts_the_rest_short(
    settings: Any,
) -> None:
    operation_id = await _operation(120)
    # A chunk takes milliseconds: a ratio of 10,000 rests for many seconds after the first.
    worker = BulkWorker(poll_seconds=0.05, pause_ratio=10_000, chunk_size=25)
    task = asyncio.create_task(worker.run())

    async def one_chunk_done() -> bool:
        return await _processed(operation_id) == 25

    await eventually(one_chunk_done)
    await asyncio.sleep(0.5)
    assert await _processed(operation_id) == 25  # resting, not on to the next chunk

    began = time.monotonic()
    worker.stop()
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - began < 1
    assert (await BulkOperation.get(id=operation_id)).status is BulkStatus.RUNNING
