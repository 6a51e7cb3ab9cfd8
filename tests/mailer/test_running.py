"""The mailer inside the API process, sending to the development sink."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from app import create_app
from config import Settings
from domain.clock import utcnow
from domain.mail_queue import mail_queued
from mailer import outbox
from mailer.sink import HOST
from models.invitation import DeliveryState, Invitation, InvitationStatus
from tests.mailer.conftest import (
    SmtpServer,
    configured,
    eventually,
    make_invitation,
    make_invitations,
    make_mailer,
    parse,
)


async def test_the_api_lifespan_runs_the_mailer_into_the_development_sink(
    settings, tmp_path: Path
) -> None:
    mail_dir = tmp_path / "mail"
    dev = configured(settings, smtp_url=None, mail_dir=str(mail_dir), mailer_poll_seconds=30)
    app = create_app(dev, manage_database=False, run_mailer=True)

    async with app.router.lifespan_context(app):
        invitation = await make_invitation("dev@example.com")
        # A long poll: only the wake-up call can make this test finish in time.
        mail_queued()

        async def delivered() -> bool:
            row = await Invitation.get(id=invitation.id)
            return row.delivery_state is DeliveryState.DELIVERED

        await eventually(delivered)

    [eml] = list(mail_dir.glob("*.eml"))
    message = parse(eml.read_bytes())
    assert message["To"] == "dev@example.com"
    assert message["X-Invitation-Id"] == str(invitation.id)


async def test_stopping_finishes_the_message_under_way_and_gives_the_batch_back(
    settings, smtp: SmtpServer
) -> None:
    worker = make_mailer(
        configured(settings, smtp_url=f"smtp://{HOST}:{smtp.port}", mailer_connections=1),
        lanes=1,
    )
    invitations = await make_invitations(6)
    loop = asyncio.get_running_loop()
    # The server asks the worker to stop while it holds the first message: as SIGTERM would.
    smtp.on_data = lambda: loop.call_soon_threadsafe(worker.stop)

    await asyncio.wait_for(worker.run(), timeout=5)
    await worker.transport.close()

    rows = await Invitation.filter(id__in=[i.id for i in invitations]).order_by("id")
    assert rows[0].delivery_state is DeliveryState.DELIVERED
    assert len(smtp.received) == 1
    for row in rows[1:]:
        assert (row.delivery_state, row.attempts, row.lease_id) == (DeliveryState.QUEUED, 0, None)
    assert [r.id for r in await outbox.claim(10, lease_seconds=30)] == [r.id for r in rows[1:]]


async def test_the_mailer_loop_sweeps(settings: Settings, smtp: SmtpServer) -> None:
    row = await make_invitation(expires_at=utcnow() - timedelta(minutes=1))
    worker = make_mailer(configured(settings, smtp_url=f"smtp://{HOST}:{smtp.port}"))
    task = asyncio.create_task(worker.run())
    try:
        for _ in range(200):
            if (await Invitation.get(id=row.id)).status is InvitationStatus.EXPIRED:
                break
            await asyncio.sleep(0.02)
    finally:
        worker.stop()
        await task
        await worker.transport.close()

    assert (await Invitation.get(id=row.id)).status is InvitationStatus.EXPIRED
    assert smtp.received == []
