"""Claiming and fencing at the SQL level, on the database clock."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import aiosqlite
import asyncpg
import pytest

from config import DeliveryPolicy
from domain.clock import utcnow
from mailer import outbox
from mailer.sink import HOST
from mailer.worker import IN_DOUBT
from models.invitation import DeliveryState, Invitation, InvitationStatus
from tests.mailer.conftest import (
    SmtpServer,
    configured,
    drain,
    make_invitation,
    make_invitations,
    make_mailer,
)


async def test_a_claim_takes_at_most_the_batch_and_never_a_leased_row() -> None:
    invitations = await make_invitations(5)

    first = await outbox.claim(3, lease_seconds=30)
    second = await outbox.claim(3, lease_seconds=30)
    third = await outbox.claim(3, lease_seconds=30)

    assert [r.id for r in first] == [i.id for i in invitations[:3]]
    assert [r.id for r in second] == [i.id for i in invitations[3:]]
    assert third == []
    assert len({r.lease_id for r in first + second}) == 2
    row = await Invitation.get(id=first[0].id)
    assert row.lease_id == first[0].lease_id
    assert row.lease_expires_at is not None
    assert row.lease_expires_at > utcnow() + timedelta(seconds=20)
    assert row.delivery_state is DeliveryState.QUEUED


async def test_concurrent_claims_share_no_row_and_take_at_most_the_batch() -> None:
    # The claim picks its ids once (an array), so each claim leases at most its batch even
    # while others skip the rows it locked.
    invitations = await make_invitations(40)

    claims = await asyncio.gather(*(outbox.claim(7, lease_seconds=30) for _ in range(8)))

    assert all(len(claim) <= 7 for claim in claims)
    ids = [row.id for claim in claims for row in claim]
    assert len(ids) == len(set(ids)) == 40
    assert set(ids) == {i.id for i in invitations}
    leased = await Invitation.filter(lease_id__isnull=False).count()
    assert leased == 40


async def test_rows_not_yet_due_or_finished_are_not_claimed() -> None:
    await make_invitation("later@example.com", next_attempt_at=utcnow() + timedelta(minutes=5))
    for state in (DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.UNKNOWN):
        await make_invitation(f"{state.value}@example.com", delivery_state=state)
    due = await make_invitation("due@example.com", next_attempt_at=utcnow() - timedelta(seconds=1))

    assert [r.id for r in await outbox.claim(10, lease_seconds=30)] == [due.id]


async def test_a_lost_lease_cannot_overwrite_the_new_holder() -> None:
    await make_invitation()
    [stale] = await outbox.claim(1, lease_seconds=0.001)
    assert await outbox.start_sending(stale, "<a@example.com>", lease_seconds=0.001)
    await Invitation.filter(id=stale.id).update(lease_expires_at=utcnow() - timedelta(seconds=1))

    [rescued] = await outbox.claim(1, lease_seconds=30)

    assert rescued.id == stale.id
    assert rescued.in_doubt
    assert rescued.message_id == "<a@example.com>"
    assert rescued.attempts == 1
    assert not await outbox.delivered(stale)
    assert not await outbox.settle(stale, DeliveryState.FAILED, "late")
    assert await outbox.delivered(rescued)
    row = await Invitation.get(id=stale.id)
    assert row.delivery_state is DeliveryState.DELIVERED
    assert row.last_error is None


async def test_a_row_canceled_after_its_claim_is_not_started() -> None:
    invitation = await make_invitation()
    [row] = await outbox.claim(1, lease_seconds=30)
    await Invitation.filter(id=invitation.id).update(status=InvitationStatus.CANCELED)

    assert not await outbox.start_sending(row, "<x@example.com>", lease_seconds=30)
    stored = await Invitation.get(id=invitation.id)
    assert (stored.delivery_state, stored.attempts) == (DeliveryState.QUEUED, 0)


async def _abandoned_send() -> Invitation:
    """A row left in SENDING by a worker that died mid-send."""
    invitation = await make_invitation()
    [row] = await outbox.claim(1, lease_seconds=30)
    assert await outbox.start_sending(row, "<kept@example.com>", lease_seconds=30)
    await Invitation.filter(id=row.id).update(lease_expires_at=utcnow() - timedelta(seconds=1))
    return invitation


async def test_an_abandoned_send_is_sent_again_with_its_message_id(
    mailer, smtp: SmtpServer
) -> None:
    invitation = await _abandoned_send()

    await drain(mailer)

    row = await Invitation.get(id=invitation.id)
    assert row.delivery_state is DeliveryState.DELIVERED
    assert row.attempts == 2
    assert [m["Message-ID"] for m in smtp.messages()] == ["<kept@example.com>"]


async def test_at_most_once_parks_an_abandoned_send_as_unknown(settings, smtp: SmtpServer) -> None:
    invitation = await _abandoned_send()
    worker = make_mailer(
        configured(
            settings,
            smtp_url=f"smtp://{HOST}:{smtp.port}",
            mailer_delivery=DeliveryPolicy.AT_MOST_ONCE,
        )
    )

    await drain(worker)

    row = await Invitation.get(id=invitation.id)
    assert row.delivery_state is DeliveryState.UNKNOWN
    assert row.last_error == IN_DOUBT
    assert smtp.received == []


async def test_queue_depth_counts_waiting_and_sending_rows() -> None:
    await make_invitations(3)
    await make_invitation("done@example.com", delivery_state=DeliveryState.DELIVERED)
    [row] = await outbox.claim(1, lease_seconds=30)
    await outbox.start_sending(row, "<x@example.com>", lease_seconds=30)

    assert await outbox.queue_depth() == 3


async def test_the_aiosqlite_fence_runs_a_function_in_the_connections_thread(
    tmp_path: Path,
) -> None:
    # outbox.in_connection_thread leans on aiosqlite's private `_execute` and `_conn`: this
    # fails when an aiosqlite other than the pinned one (pyproject.toml) changes them.
    assert importlib.metadata.version("aiosqlite") == "0.22.1"

    def inside(connection: sqlite3.Connection, value: int, *, plus: int) -> tuple[int, bool]:
        (total,) = connection.execute("SELECT ? + ?", [value, plus]).fetchone()
        return total, threading.current_thread() is not threading.main_thread()

    async with aiosqlite.connect(tmp_path / "fence.sqlite3") as connection:
        assert await outbox.in_connection_thread(connection, inside, 40, plus=2) == (42, True)


ON_POSTGRES = os.environ.get("INVITATIONS_TEST_DATABASE_URL", "").startswith("postgres")


@pytest.mark.skipif(not ON_POSTGRES, reason="a plan cache of PostgreSQL's (run on PostgreSQL)")
async def test_the_record_statement_is_planned_once_per_connection(
    database_url: str,
) -> None:
    # PostgreSQL keeps re-planning a statement whose custom plans look cheaper than its generic
    # one; for this one planning cost more than running it (bench/mailer.py). Its arrays come in
    # through sub-selects so that both plans estimate alike and the cached generic plan wins.
    invitations = await make_invitations(8)
    claimed = await outbox.claim(8, lease_seconds=30)
    connection = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        # Enough delivered rows beside them that plans look rows up by primary key.
        columns = [
            r[0]
            for r in await connection.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'invitation'"
                " AND column_name NOT IN ('id', 'email', 'email_key', 'code_nonce',"
                " 'delivery_state', 'lease_id')"
            )
        ]
        copied = ", ".join(columns)
        await connection.execute(
            f"INSERT INTO invitation ({copied}, email, email_key, code_nonce, delivery_state)"  # noqa: S608
            f" SELECT {copied}, 'f' || g || '@example.com', 'f' || g || '@example.com',"
            " md5(g::text), 'DELIVERED' FROM invitation, generate_series(1, 5000) AS g"
            " WHERE id = $1",
            invitations[0].id,
        )
        await connection.execute("ANALYZE invitation")
        statement = await connection.prepare(outbox._RECORD_POSTGRES)
        for row in claimed:
            await statement.fetch([row.id], [row.lease_id], ["<m@x>"], [30.0], [], [], "system")
        [stats] = await connection.fetch(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
            outbox._RECORD_POSTGRES,
        )
    finally:
        await connection.close()
    assert stats["custom_plans"] <= 5, dict(stats)
    assert stats["generic_plans"] >= 3, dict(stats)
    states = await Invitation.filter(id__in=[i.id for i in invitations]).values_list(
        "delivery_state", flat=True
    )
    assert set(states) == {DeliveryState.SENDING}
