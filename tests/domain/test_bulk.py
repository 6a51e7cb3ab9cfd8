"""Bulk operations in the domain: the selection, the chunks, the outcomes, cancel."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from cli.demo import seed_demo
from domain import admin_batch, bulk
from domain.clock import utcnow
from domain.codes import new_nonce
from domain.errors import InvalidInput, InvalidStatus
from domain.grid import GridFilter
from models.accounts import AdminUser
from models.bulk import BulkAction, BulkOperation, BulkOperationItem, BulkStatus, ItemState
from models.invitation import DeliveryState, Invitation, InvitationStatus, InvitationStatusChange
from models.store import StoreView
from tests.conftest import _empty_database
from tests.helpers import make_admin, make_customer
from tests.invitation_factories import make_invitation

OPEN = [InvitationStatus.NOT_SENT, InvitationStatus.SENT]


async def make_many(count: int, *, status: InvitationStatus = InvitationStatus.SENT) -> list[int]:
    store = await StoreView.get(code="default")
    now = utcnow()
    first = await Invitation.all().order_by("-id").first()
    start = first.id if first else 0
    await Invitation.bulk_create(
        [
            Invitation(
                email=f"guest{start + i}@example.com",
                email_key=f"guest{start + i}@example.com",
                status=status,
                delivery_state=DeliveryState.DELIVERED,
                created_at=now,
                updated_at=now,
                store_view_id=store.id,
                website_id=store.website_id,
                code_nonce=new_nonce(),
            )
            for i in range(count)
        ],
        batch_size=500,
    )
    return list(await Invitation.filter(id__gt=start).order_by("id").values_list("id", flat=True))


async def run_all(size: int = bulk.CHUNK_SIZE) -> int:
    chunks = 0
    while await bulk.run_chunk(size) is not None:
        chunks += 1
    return chunks


async def test_a_filter_of_5000_is_discarded_less_the_excluded_and_the_later_rows(
    settings: Any,
) -> None:
    admin = await make_admin()
    ids = await make_many(5000)
    await make_many(10, status=InvitationStatus.ACCEPTED)  # outside the filter
    excluded = [ids[0], ids[2500], ids[-1]]

    operation = await bulk.start(
        admin=admin,
        action=BulkAction.DISCARD,
        where=GridFilter(status=OPEN),
        exclude_ids=[str(i) for i in excluded],
    )
    assert (operation.status, operation.total) == (BulkStatus.QUEUED, 4997)
    later = await make_many(20)  # created after the start: not selected
    assert await run_all() == 10

    operation = await BulkOperation.get(id=operation.id)
    assert operation.status is BulkStatus.COMPLETED
    assert (operation.processed, operation.succeeded, operation.skipped) == (4997, 4997, 0)
    assert operation.finished_at is not None
    statuses = Counter(await Invitation.all().values_list("status", flat=True))
    assert statuses == {
        InvitationStatus.CANCELED: 4997,
        InvitationStatus.SENT: 23,
        InvitationStatus.ACCEPTED: 10,
    }
    assert set(
        await Invitation.filter(id__in=excluded + later).values_list("status", flat=True)
    ) == {InvitationStatus.SENT}
    history = await InvitationStatusChange.filter(status=InvitationStatus.CANCELED).values_list(
        "invitation_id", "actor"
    )
    assert len(history) == 4997
    assert {actor for _, actor in history} == {"admin:root"}
    assert len({invitation for invitation, _ in history}) == 4997


async def _mixed_data() -> tuple[AdminUser, list[int]]:
    """One invitation in each state the rules tell apart, in a fixed order (so fixed ids)."""
    admin = await make_admin()
    past = utcnow() - timedelta(days=1)
    rows = [
        await make_invitation(None, "open-not-sent@example.com"),
        await make_invitation(None, "open-sent@example.com", status=InvitationStatus.SENT),
        await make_invitation(None, "lapsed@example.com", expires_at=past),
        await make_invitation(None, "accepted@example.com", status=InvitationStatus.ACCEPTED),
        await make_invitation(None, "canceled@example.com", status=InvitationStatus.CANCELED),
        await make_invitation(None, "expired@example.com", status=InvitationStatus.EXPIRED),
        await make_invitation(None, "customer@example.com", status=InvitationStatus.SENT),
        await make_invitation(None, "sending@example.com", status=InvitationStatus.SENT),
        await make_invitation(None, "delivered@example.com", status=InvitationStatus.SENT),
    ]
    await make_customer("customer@example.com")
    await Invitation.filter(id=rows[7].id).update(delivery_state=DeliveryState.SENDING)
    await Invitation.filter(id__in=[r.id for r in rows[1:7]] + [rows[8].id]).update(
        delivery_state=DeliveryState.DELIVERED
    )
    return admin, [row.id for row in rows]


async def _state() -> list[tuple[Any, ...]]:
    rows = await Invitation.all().order_by("id")
    history = (
        await InvitationStatusChange.all()
        .order_by("id")
        .values_list("invitation_id", "status", "actor")
    )
    return [
        *((r.id, r.status, r.delivery_state, r.send_number, r.message_id) for r in rows),
        *history,
    ]


@pytest.mark.parametrize("action", [BulkAction.DISCARD, BulkAction.RESEND])
async def test_per_id_outcomes_are_those_of_the_synchronous_mutations(
    settings: Any, action: BulkAction
) -> None:
    admin, ids = await _mixed_data()
    mutation = admin_batch.discard if action is BulkAction.DISCARD else admin_batch.resend
    outcome = await mutation(admin=admin, ids=[str(i) for i in ids])
    by_sync = {ids[int(e.field[1])]: (e.code, e.message) for e in outcome.errors if e.field}
    assert len(by_sync) == len(outcome.errors)
    after_sync = await _state()

    await _empty_database(settings.is_sqlite)
    await seed_demo()
    admin, again = await _mixed_data()
    assert again == ids
    operation = await bulk.start(
        admin=admin, action=action, where=GridFilter(ids=[str(i) for i in ids]), exclude_ids=[]
    )
    await run_all(size=4)  # several chunks

    skipped = await BulkOperationItem.filter(
        operation_id=operation.id, state=ItemState.SKIPPED
    ).values_list("invitation_id", "code", "message")
    assert {i: (code, message) for i, code, message in skipped} == by_sync
    assert by_sync  # the data has refusals of each kind
    operation = await BulkOperation.get(id=operation.id)
    assert operation.succeeded == len(outcome.invitations)
    assert operation.skipped == len(by_sync)
    assert await _state() == after_sync


async def test_cancel_stops_between_chunks(settings: Any) -> None:
    admin = await make_admin()
    await make_many(1000)
    operation = await bulk.start(
        admin=admin, action=BulkAction.DISCARD, where=GridFilter(), exclude_ids=[]
    )
    await bulk.run_chunk(300)

    canceled = await bulk.cancel(raw_id=str(operation.id))

    assert canceled.status is BulkStatus.CANCELED
    assert await bulk.run_chunk(300) is None
    assert await Invitation.filter(status=InvitationStatus.CANCELED).count() == 300
    assert (await BulkOperation.get(id=operation.id)).processed == 300
    with pytest.raises(InvalidStatus):
        await bulk.cancel(raw_id=str(operation.id))


async def test_two_workers_share_an_operation_and_handle_each_id_once(settings: Any) -> None:
    admin = await make_admin()
    await make_many(3000)
    operation = await bulk.start(
        admin=admin, action=BulkAction.DISCARD, where=GridFilter(), exclude_ids=[]
    )

    chunks = await asyncio.gather(run_all(200), run_all(200))

    # 15 full chunks at least; more when the two meet on the same rows (PostgreSQL's SKIP
    # LOCKED then hands one of them a short chunk), but never chunks of a few rows each. Each id
    # handled once is what matters, below.
    assert 15 <= sum(chunks) <= 30
    operation = await BulkOperation.get(id=operation.id)
    assert (operation.status, operation.processed, operation.succeeded) == (
        BulkStatus.COMPLETED,
        3000,
        3000,
    )
    per_invitation = Counter(
        await InvitationStatusChange.filter(status=InvitationStatus.CANCELED).values_list(
            "invitation_id", flat=True
        )
    )
    assert len(per_invitation) == 3000
    assert set(per_invitation.values()) == {1}


async def test_an_empty_selection_completes_at_once(settings: Any) -> None:
    operation = await bulk.start(
        admin=await make_admin(),
        action=BulkAction.RESEND,
        where=GridFilter(status=[InvitationStatus.ACCEPTED]),
        exclude_ids=[],
    )
    assert (operation.status, operation.total) == (BulkStatus.COMPLETED, 0)


async def test_a_bad_selection_is_refused_and_writes_nothing(settings: Any) -> None:
    admin = await make_admin()
    with pytest.raises(InvalidInput) as refused:
        await bulk.start(
            admin=admin, action=BulkAction.DISCARD, where=GridFilter(), exclude_ids=["1", "x"]
        )
    assert refused.value.field == ("exclude_ids", 1)
    with pytest.raises(InvalidInput) as refused:
        await bulk.start(
            admin=admin, action=BulkAction.DISCARD, where=GridFilter(email="\x00"), exclude_ids=[]
        )
    assert refused.value.field == ("filter", "email")
    assert await BulkOperation.all().count() == 0
