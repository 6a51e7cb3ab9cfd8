"""The expiry sweep: lapsed invitations are stored EXPIRED, with history and events, once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import events
from config import Settings
from domain.clock import utcnow
from domain.expiry import SWEEP_LEASE, ExpirySweeper, take_lease
from models.invitation import (
    SYSTEM_ACTOR,
    Invitation,
    InvitationStatus,
    InvitationStatusChange,
)
from tests.mailer.conftest import make_invitation


async def lapsed(count: int, **fields: object) -> list[Invitation]:
    past = utcnow() - timedelta(minutes=1)
    return [
        await make_invitation(f"lapsed{i}@example.com", expires_at=past, **fields)
        for i in range(count)
    ]


def sweeper(batch_size: int = 500, batches: int = 10) -> ExpirySweeper:
    return ExpirySweeper(batch_size=batch_size, batches=batches, lease_seconds=60)


async def test_a_sweep_stores_each_expiry_with_a_system_history_row_and_an_event(
    settings: Settings,
) -> None:
    # Given two lapsed invitations, one still running and one accepted long ago
    rows = await lapsed(2)
    rows.append(await lapsed_sent())
    running = await make_invitation("later@example.com", expires_at=utcnow() + timedelta(days=1))
    accepted = await make_invitation(
        "done@example.com", status=InvitationStatus.ACCEPTED, expires_at=utcnow()
    )

    async with events.running(settings.database_url):
        with events.BROKER.subscription(100) as subscriber:
            # When the workers sweep
            expired = await sweeper().sweep(utcnow())
            seen = {(await subscriber.next(5.0)) for _ in range(3)}

    # Then the lapsed ones are stored EXPIRED, each with one history row and one event
    assert expired == 3
    for row in rows:
        stored = await Invitation.get(id=row.id)
        assert stored.status is InvitationStatus.EXPIRED
        history = await InvitationStatusChange.filter(invitation_id=row.id)
        assert [(h.status, h.actor) for h in history] == [(InvitationStatus.EXPIRED, SYSTEM_ACTOR)]
    assert {change.invitation_id for change in seen if change} == {row.id for row in rows}
    assert (await Invitation.get(id=running.id)).status is InvitationStatus.NOT_SENT
    assert (await Invitation.get(id=accepted.id)).status is InvitationStatus.ACCEPTED


async def lapsed_sent() -> Invitation:
    return await make_invitation(
        "sent@example.com",
        status=InvitationStatus.SENT,
        expires_at=utcnow() - timedelta(seconds=1),
    )


async def test_a_sweep_works_in_bounded_batches() -> None:
    await lapsed(7)

    first = await sweeper(batch_size=3, batches=2).sweep(utcnow())
    second = await sweeper(batch_size=3, batches=2).sweep(utcnow())

    assert (first, second) == (6, 1)
    assert await Invitation.filter(status=InvitationStatus.EXPIRED).count() == 7


async def test_two_sweepers_at_once_expire_each_invitation_once() -> None:
    rows = await lapsed(30)
    now = utcnow()

    results = await asyncio.gather(*(sweeper(batch_size=4).sweep(now) for _ in range(4)))

    assert sum(results) == 30
    history = await InvitationStatusChange.filter(invitation_id__in=[r.id for r in rows])
    assert sorted(h.invitation_id for h in history) == sorted(r.id for r in rows)


async def test_while_one_process_holds_the_lease_another_does_not_sweep() -> None:
    await lapsed(2)
    now = utcnow()
    assert await take_lease(SWEEP_LEASE, "another-replica", now=now, seconds=60)

    assert await sweeper().sweep(now) == 0
    # Once that lease has run out, the sweep goes ahead.
    assert await sweeper().sweep(now + timedelta(seconds=61)) == 2
