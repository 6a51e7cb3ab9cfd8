"""Bulk operations in real worker processes: one killed mid-chunk, two sharing an operation."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter

from config import Settings
from domain import bulk
from domain.grid import GridFilter
from models.bulk import BulkAction, BulkOperation, BulkOperationItem, BulkStatus, ItemState
from models.invitation import InvitationStatus, InvitationStatusChange
from tests.domain.test_bulk import make_many
from tests.helpers import make_admin
from tests.mailer.conftest import SmtpServer, eventually
from tests.mailer.test_processes import ROOT, _environment, _spawn


async def _canceled_once_each(count: int) -> None:
    per_invitation = Counter(
        await InvitationStatusChange.filter(status=InvitationStatus.CANCELED).values_list(
            "invitation_id", flat=True
        )
    )
    assert len(per_invitation) == count
    assert set(per_invitation.values()) == {1}


async def _running_worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    """A `cli worker` process that has said it runs: its SIGTERM handler is in place."""
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "worker", cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
    )
    assert worker.stdout is not None
    line = await asyncio.wait_for(worker.stdout.readline(), timeout=30)
    assert line.startswith(b"Mailer running"), line
    return worker


async def _completed(operation_id: int) -> bool:
    return (await BulkOperation.get(id=operation_id)).status is BulkStatus.COMPLETED


async def test_a_worker_killed_mid_chunk_is_completed_by_another_with_each_id_once(
    settings: Settings, smtp: SmtpServer
) -> None:
    await make_many(2000)
    operation = await bulk.start(
        admin=await make_admin(), action=BulkAction.DISCARD, where=GridFilter(), exclude_ids=[]
    )
    env = _environment(settings, smtp)

    crashing = await _spawn(env, "tests.mailer.crash_bulk_worker", "2", "300")

    assert await crashing.wait() == -signal.SIGKILL
    halfway = await BulkOperation.get(id=operation.id)
    assert (halfway.status, halfway.processed) == (BulkStatus.RUNNING, 600)
    assert await InvitationStatusChange.filter(status=InvitationStatus.CANCELED).count() == 600
    states = Counter(
        await BulkOperationItem.filter(operation_id=operation.id).values_list("state", flat=True)
    )
    assert states == {ItemState.DONE: 600, ItemState.PENDING: 1400}  # the open chunk rolled back
    worker = await _running_worker(env)
    try:
        await eventually(lambda: _completed(operation.id), timeout=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await worker.wait() == 0
    done = await BulkOperation.get(id=operation.id)
    assert (done.processed, done.succeeded, done.skipped) == (2000, 2000, 0)
    await _canceled_once_each(2000)


async def test_two_worker_processes_share_one_operation(
    settings: Settings, smtp: SmtpServer
) -> None:
    await make_many(5000)
    operation = await bulk.start(
        admin=await make_admin(), action=BulkAction.DISCARD, where=GridFilter(), exclude_ids=[]
    )
    env = _environment(settings, smtp)

    workers = [await _running_worker(env) for _ in range(2)]
    try:
        await eventually(lambda: _completed(operation.id), timeout=45)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [await worker.wait() for worker in workers]

    assert codes == [0, 0]
    done = await BulkOperation.get(id=operation.id)
    assert (done.processed, done.succeeded) == (5000, 5000)
    await _canceled_once_each(5000)
