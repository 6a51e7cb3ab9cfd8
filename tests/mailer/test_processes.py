"""Worker processes: killed at each crash point, and several sharing one database."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from config import Settings
from domain.clock import utcnow
from domain.codes import new_nonce
from mailer.sink import HOST
from models.invitation import DeliveryState, Invitation
from models.store import StoreView
from tests.helpers import TEST_SECRET
from tests.mailer.conftest import SmtpServer, drain, eventually, make_invitations

ROOT = Path(__file__).resolve().parents[2]


def _environment(settings: Settings, smtp: SmtpServer, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "INVITATIONS_DATABASE_URL": settings.database_url,
        "INVITATIONS_SMTP_URL": f"smtp://{HOST}:{smtp.port}",
        "INVITATIONS_SECRET_KEY": TEST_SECRET,
        "INVITATIONS_MAILER_RETRY_BASE_SECONDS": "0",
        "INVITATIONS_MAILER_POLL_SECONDS": "0.1",
        **extra,
    }


async def _spawn(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL
    )


@pytest.mark.parametrize(
    ("point", "duplicates"),
    [("after_claim", 0), ("after_sending", 0), ("after_250", 1), ("after_recording", 0)],
)
async def test_a_worker_killed_at_a_crash_point_loses_nothing(
    settings, smtp: SmtpServer, mailer, point: str, duplicates: int
) -> None:
    invitations = await make_invitations(3)
    env = _environment(settings, smtp, INVITATIONS_MAILER_LEASE_SECONDS="0.3")

    process = await _spawn(env, "tests.mailer.crash_worker", point)

    assert await process.wait() == -signal.SIGKILL
    await asyncio.sleep(0.35)  # the dead worker's lease runs out
    await drain(mailer)
    rows = await Invitation.filter(id__in=[i.id for i in invitations])
    assert {r.delivery_state for r in rows} == {DeliveryState.DELIVERED}
    copies = Counter(m["Message-ID"] for m in smtp.messages())
    assert set(copies) == {r.message_id for r in rows}
    assert sum(copies.values()) == len(rows) + duplicates


async def _bulk_invitations(count: int) -> None:
    store_view = await StoreView.get(code="default")
    now = utcnow()
    await Invitation.bulk_create(
        [
            Invitation(
                email=f"guest{i}@example.com",
                email_key=f"guest{i}@example.com",
                created_at=now,
                updated_at=now,
                store_view_id=store_view.id,
                website_id=store_view.website_id,
                code_nonce=new_nonce(),
            )
            for i in range(count)
        ],
        batch_size=500,
    )


async def test_four_worker_processes_send_each_invitation_exactly_once(
    settings, smtp: SmtpServer
) -> None:
    count = 2000
    await _bulk_invitations(count)
    env = _environment(settings, smtp, INVITATIONS_MAILER_BATCH_SIZE="25")

    workers = [await _spawn(env, "cli", "worker") for _ in range(4)]
    try:

        async def all_delivered() -> bool:
            return await Invitation.filter(delivery_state=DeliveryState.DELIVERED).count() == count

        await eventually(all_delivered, timeout=45)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [await worker.wait() for worker in workers]

    assert codes == [0, 0, 0, 0]
    per_invitation = Counter(m["X-Invitation-Id"] for m in smtp.messages())
    assert len(per_invitation) == count
    assert set(per_invitation.values()) == {1}
    assert await Invitation.filter(attempts=1).count() == count
