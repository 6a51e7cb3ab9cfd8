"""Group commit of the mailer's writes: one transaction for what lanes ask for at once."""

from __future__ import annotations

import asyncio

import pytest

from mailer import outbox
from mailer.recorder import Recorder
from models.invitation import DeliveryState, Invitation, InvitationStatus, InvitationStatusChange
from tests.mailer.conftest import make_invitations


@pytest.fixture
def groups(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The row ids of each group the recorder writes, in order."""
    written: list[list[int]] = []
    record = outbox.record

    async def counting(records: list[outbox.Record]) -> set[int]:
        written.append([r.row.id for r in records])
        return await record(records)

    monkeypatch.setattr(outbox, "record", counting)
    return written


async def test_writes_asked_for_together_are_one_group(groups: list[list[int]]) -> None:
    invitations = await make_invitations(4)
    rows = await outbox.claim(4, lease_seconds=30)
    writer = Recorder()

    started = await asyncio.gather(
        *(writer.start_sending(row, f"<{row.id}@example.com>", 30) for row in rows)
    )
    # Two deliveries and the next row's start, asked for before anything is awaited.
    deliveries = [writer.delivered(row) for row in rows[:2]]
    also_started = await writer.start_sending(rows[2], "<again@example.com>", 30)

    assert started == [True] * 4
    assert await asyncio.gather(*deliveries) == [True, True]
    # The third row is SENDING already, and its lease is still this one: the write matches.
    assert also_started
    assert groups == [[r.id for r in rows], [rows[0].id, rows[1].id, rows[2].id]]
    stored = {i.id: i for i in await Invitation.filter(id__in=[i.id for i in invitations])}
    assert stored[rows[0].id].delivery_state is DeliveryState.DELIVERED
    assert stored[rows[0].id].status is InvitationStatus.SENT
    assert stored[rows[0].id].sent_at is not None
    assert stored[rows[2].id].delivery_state is DeliveryState.SENDING
    assert stored[rows[2].id].attempts == 2
    assert stored[rows[2].id].message_id == "<again@example.com>"
    assert stored[rows[3].id].message_id == f"<{rows[3].id}@example.com>"
    history = await InvitationStatusChange.filter(invitation_id__in=[rows[0].id, rows[1].id])
    assert sorted((h.invitation_id, h.status, h.actor) for h in history) == [
        (rows[0].id, InvitationStatus.SENT, "system"),
        (rows[1].id, InvitationStatus.SENT, "system"),
    ]


async def test_each_write_in_a_group_is_fenced_by_its_own_row() -> None:
    await make_invitations(3)
    rows = await outbox.claim(3, lease_seconds=30)
    await Invitation.filter(id=rows[1].id).update(status=InvitationStatus.CANCELED)
    await Invitation.filter(id=rows[2].id).update(lease_id="somebody-else")
    writer = Recorder()

    started = await asyncio.gather(*(writer.start_sending(r, "<m@example.com>", 30) for r in rows))
    # (The mailer only records the delivery of a row it started; the third tries anyway.)
    delivered = await asyncio.gather(writer.delivered(rows[0]), writer.delivered(rows[2]))

    assert started == [True, False, False]
    assert delivered == [True, False]
    stored = {i.id: i for i in await Invitation.filter(id__in=[r.id for r in rows])}
    assert stored[rows[0].id].delivery_state is DeliveryState.DELIVERED
    assert (stored[rows[1].id].delivery_state, stored[rows[1].id].attempts) == (
        DeliveryState.QUEUED,
        0,
    )
    assert stored[rows[1].id].status is InvitationStatus.CANCELED
    assert stored[rows[2].id].delivery_state is DeliveryState.QUEUED
    # Only the first delivery of a NOT_SENT invitation writes history.
    assert await InvitationStatusChange.filter(invitation_id__in=[r.id for r in rows]).count() == 1


async def test_a_second_delivery_keeps_the_status_and_writes_no_history() -> None:
    [invitation] = await make_invitations(1)
    await Invitation.filter(id=invitation.id).update(status=InvitationStatus.SENT)
    [row] = await outbox.claim(1, lease_seconds=30)
    writer = Recorder()

    assert await writer.start_sending(row, "<resend@example.com>", 30)
    assert await writer.delivered(row)

    stored = await Invitation.get(id=invitation.id)
    assert (stored.status, stored.delivery_state) == (
        InvitationStatus.SENT,
        DeliveryState.DELIVERED,
    )
    assert await InvitationStatusChange.filter(invitation_id=invitation.id).count() == 0


async def test_a_failed_group_is_written_row_by_row(monkeypatch: pytest.MonkeyPatch) -> None:
    await make_invitations(3)
    rows = await outbox.claim(3, lease_seconds=30)
    record = outbox.record
    failures = []

    async def failing_once(records: list[outbox.Record]) -> set[int]:
        if not failures:
            failures.append(len(records))
            raise RuntimeError("deadlock detected")
        return await record(records)

    monkeypatch.setattr(outbox, "record", failing_once)
    writer = Recorder()

    started = await asyncio.gather(*(writer.start_sending(r, "<m@example.com>", 30) for r in rows))

    assert failures == [3]
    assert started == [True, True, True]
    stored = await Invitation.filter(id__in=[r.id for r in rows])
    assert {(i.delivery_state, i.attempts) for i in stored} == {(DeliveryState.SENDING, 1)}


async def test_a_lone_write_that_fails_reaches_its_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    await make_invitations(1)
    [row] = await outbox.claim(1, lease_seconds=30)

    async def failing(records: list[outbox.Record]) -> set[int]:
        raise RuntimeError("disk I/O error")

    monkeypatch.setattr(outbox, "record", failing)

    with pytest.raises(RuntimeError, match="disk I/O error"):
        await Recorder().start_sending(row, "<m@example.com>", 30)
    stored = await Invitation.get(id=row.id)
    assert (stored.delivery_state, stored.attempts) == (DeliveryState.QUEUED, 0)
