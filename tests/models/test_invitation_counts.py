"""The summary counts behind the grid's totalCount stay exact through every write path.

A seeded random sequence of real operations (customer sends, admin creation, cancel, discard,
resend, acceptance, the mailer's claim and outcomes, lifetimes running out, deletes) runs on the
test database; after each step the fast count of every filter in a matrix must equal an exact
COUNT of the same filter, and the summary table must equal a recount from scratch.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import timedelta
from typing import Any

import pytest
from tortoise import connections

from cli.database import migrate
from config import Settings, tortoise_config
from domain import admin_batch, admin_invitations, invitations, registration
from domain.clock import utcnow
from domain.errors import DomainError
from domain.grid import GridFilter, grid_page
from mailer import outbox
from models.accounts import AdminUser, Customer
from models.invitation import DeliveryState, Invitation, InvitationStatus
from models.invitation_counts import InvitationCount, count_in_scope, rebuild
from models.store import CustomerGroup, StoreView, Website
from tests.helpers import make_admin, make_customer
from tests.invitation_factories import age, set_settings

S = InvitationStatus
STATUS_SETS: list[list[InvitationStatus]] = [
    [],
    [S.NOT_SENT],
    [S.SENT],
    [S.EXPIRED],
    [S.ACCEPTED],
    [S.CANCELED],
    [S.NOT_SENT, S.SENT],
    [S.NOT_SENT, S.EXPIRED],
    [S.SENT, S.EXPIRED, S.CANCELED],
    list(S),
]


async def _filters() -> list[GridFilter]:
    websites = [str(w.id) for w in await Website.all()]
    views = [str(v.id) for v in await StoreView.all()]
    groups = [str(g.id) for g in await CustomerGroup.all()]
    matrix = [
        GridFilter(status=statuses, created_by_admin=admin, delivery_state=states)
        for statuses, admin, states in itertools.product(
            STATUS_SETS,
            [None, True, False],
            [None, [DeliveryState.QUEUED], [DeliveryState.DELIVERED, DeliveryState.FAILED]],
        )
    ]
    for statuses in STATUS_SETS:
        matrix += [
            GridFilter(status=statuses, website_ids=websites[:1]),
            GridFilter(status=statuses, store_view_ids=views[1:]),
            GridFilter(status=statuses, invitee_group_ids=groups[:2], created_by_admin=True),
        ]
    return matrix


async def _assert_exact(filters: list[GridFilter]) -> None:
    now = utcnow()
    for where in filters:
        scope = where.count_scope()
        assert scope is not None
        exact = await Invitation.filter(where.condition(now)).count()
        assert await count_in_scope(scope, now) == exact, where
    kept = {_key(row): row["n"] for row in await InvitationCount.all().values() if row["n"] != 0}
    await rebuild()
    recounted = {_key(row): row["n"] for row in await InvitationCount.all().values()}
    assert kept == recounted


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["status"],
        row["website_id"],
        row["store_view_id"],
        row["invitee_group_key"],
        bool(row["by_admin"]),
        row["delivery_state"],
    )


class World:
    """What the random operations act on."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.serial = 0

    async def setup(self) -> None:
        self.views = await StoreView.all()
        self.groups = [g.id for g in await CustomerGroup.all()]
        self.admin: AdminUser = await make_admin()
        self.customers: list[Customer] = [
            await make_customer(f"inviter{i}@example.com") for i in range(3)
        ]

    def address(self) -> str:
        self.serial += 1
        return f"friend{self.serial}@example.com"

    async def some_ids(self, k: int) -> list[str]:
        ids = [row.id for row in await Invitation.all().only("id")]
        return [str(i) for i in self.rng.sample(ids, min(k, len(ids)))]

    async def customer_send(self) -> None:
        inviter = self.rng.choice(self.customers)
        store = self.rng.choice([v for v in self.views if v.website_id == inviter.website_id])
        emails = [self.address() for _ in range(self.rng.randint(1, 3))]
        await invitations.send(inviter=inviter, store=store, emails=emails, message=None)

    async def admin_create(self) -> None:
        view = self.rng.choice(self.views)
        group = self.rng.choice([None, *self.groups])
        await admin_invitations.create(
            admin=self.admin,
            emails=[self.address() for _ in range(self.rng.randint(1, 4))],
            message=None,
            store_view_id=str(view.id),
            invitee_group_id=str(group) if group else None,
        )

    async def customer_cancel(self) -> None:
        for row in await Invitation.filter(inviter_id__isnull=False).limit(3):
            inviter = await Customer.get(id=row.inviter_id)
            try:
                await invitations.cancel(customer=inviter, invitation_id=str(row.id))
                return
            except DomainError:
                continue

    async def discard(self) -> None:
        await admin_batch.discard(admin=self.admin, ids=await self.some_ids(3))

    async def resend(self) -> None:
        await admin_batch.resend(admin=self.admin, ids=await self.some_ids(3))

    async def accept(self) -> None:
        for row in await Invitation.filter(status__in=[S.NOT_SENT, S.SENT]).limit(5):
            website = await Website.get(id=row.website_id)
            customer = Customer(
                website_id=website.id,
                group_id=row.invitee_group_id or website.default_group_id,
                email=row.email,
                email_key=row.email_key,
                firstname="F",
                lastname="L",
                password_hash="x",
                created_at=utcnow(),
            )
            try:
                await registration.accept(row, customer)
                return
            except DomainError:
                continue

    async def mail(self) -> None:
        for claimed in await outbox.claim(self.rng.randint(5, 30), 60):
            if not await outbox.start_sending(claimed, f"<m{claimed.id}@test>", 60):
                await outbox.release([claimed])
                continue
            outcome = self.rng.random()
            if outcome < 0.6:
                await outbox.delivered(claimed)
            elif outcome < 0.8:
                await outbox.settle(claimed, DeliveryState.FAILED, "refused")
            else:
                await outbox.retry_later(claimed, delay_seconds=0, reason="later")

    async def lapse(self) -> None:
        rows = await Invitation.filter(expires_at__isnull=False, status__in=[S.NOT_SENT, S.SENT])
        for row in self.rng.sample(rows, min(2, len(rows))):
            await age(row, timedelta(days=30))

    async def toggle_lifetime(self) -> None:
        await set_settings(lifetime_days=self.rng.choice([None, 1, 5]))

    async def delete(self) -> None:
        ids = await self.some_ids(1)
        if ids:
            await Invitation.filter(id=int(ids[0])).delete()

    async def move(self) -> None:
        """A console-style UPDATE of several dimensions at once."""
        ids = [int(i) for i in await self.some_ids(2)]
        view = self.rng.choice(self.views)
        await Invitation.filter(id__in=ids).update(
            store_view_id=view.id,
            website_id=view.website_id,
            invitee_group_id=self.rng.choice([None, *self.groups]),
        )


@pytest.mark.parametrize("seed", [1, 2])
async def test_counts_stay_exact_through_every_write_path(seed: int) -> None:
    world = World(random.Random(seed))
    await world.setup()
    filters = await _filters()
    operations = [
        world.customer_send,
        world.admin_create,
        world.admin_create,
        world.customer_cancel,
        world.discard,
        world.resend,
        world.accept,
        world.mail,
        world.mail,
        world.lapse,
        world.toggle_lifetime,
        world.delete,
        world.move,
    ]
    await set_settings(lifetime_days=5, max_invitations_per_send=1000)
    for step in range(80):
        await world.rng.choice(operations)()
        if step % 4 == 3:
            await _assert_exact(filters)
    await _assert_exact(filters)
    assert await Invitation.all().count() > 10
    assert await Invitation.filter(status=S.ACCEPTED).exists()


async def test_the_grid_total_count_uses_the_summary_and_falls_back_for_other_filters() -> None:
    view = await StoreView.get(code="default")
    admin = await make_admin()
    await admin_invitations.create(
        admin=admin,
        emails=["a@example.com", "b@example.com", "c@example.com"],
        message=None,
        store_view_id=str(view.id),
        invitee_group_id=None,
    )
    now = utcnow()
    # A row the summary has wrong on purpose shows which path answered.
    await InvitationCount.filter(status=S.NOT_SENT).update(n=100)
    summed = await grid_page(
        where=GridFilter(status=[S.NOT_SENT]), sort=admin_sort(), reverse=True, first=1,
        after=None, now=now,
    )  # fmt: skip
    searched = await grid_page(
        where=GridFilter(status=[S.NOT_SENT], email="example"), sort=admin_sort(), reverse=True,
        first=1, after=None, now=now,
    )  # fmt: skip
    assert await summed.total_count() == 100
    assert await searched.total_count() == 3


def admin_sort() -> Any:
    from domain.grid import SortField

    return SortField.ID


async def test_open_invitations_past_their_expiry_count_as_expired() -> None:
    await set_settings(lifetime_days=2)
    view = await StoreView.get(code="default")
    admin = await make_admin()
    await admin_invitations.create(
        admin=admin,
        emails=[f"x{i}@example.com" for i in range(5)],
        message=None,
        store_view_id=str(view.id),
        invitee_group_id=None,
    )
    for row in await Invitation.all().limit(2):
        await age(row, timedelta(days=3))
    now = utcnow()
    for statuses, expected in (
        ([S.NOT_SENT], 3),
        ([S.EXPIRED], 2),
        ([S.NOT_SENT, S.EXPIRED], 5),
        ([S.SENT, S.EXPIRED], 2),
        ([], 5),
    ):
        scope = GridFilter(status=statuses).count_scope()
        assert scope is not None
        assert await count_in_scope(scope, now) == expected, statuses


async def test_emptying_the_invitations_empties_the_counts(settings: Settings) -> None:
    admin = await make_admin()
    await admin_invitations.create(
        admin=admin,
        emails=["a@example.com", "b@example.com"],
        message=None,
        store_view_id=str((await StoreView.get(code="default")).id),
        invitee_group_id=None,
    )
    assert await InvitationCount.filter(n__gt=0).count() == 1
    conn = connections.get("default")
    await conn.execute_script(
        "DELETE FROM invitation_status_change; DELETE FROM invitation"
        if settings.is_sqlite
        else "TRUNCATE invitation CASCADE"
    )
    assert await InvitationCount.filter(n__gt=0).count() == 0


async def test_migrating_again_changes_nothing(settings: Settings) -> None:
    admin = await make_admin()
    await admin_invitations.create(
        admin=admin,
        emails=["a@example.com"],
        message=None,
        store_view_id=str((await StoreView.get(code="default")).id),
        invitee_group_id=None,
    )
    await migrate(tortoise_config(settings.database_url))
    await Invitation.filter(email="a@example.com").update(status=S.SENT)
    sent = await InvitationCount.filter(status=S.SENT).values_list("n", flat=True)
    assert sent == [1]  # one trigger, not two


async def test_concurrent_writers_keep_the_counts_exact() -> None:
    """Many transactions adding to and moving between the same combinations at once (on
    PostgreSQL each holds its summary rows until it commits; none may deadlock or lose one)."""
    world = World(random.Random(3))
    await world.setup()
    await set_settings(max_invitations_per_send=1000)

    async def writer() -> None:
        for _ in range(4):
            await world.admin_create()
            await world.customer_send()
            await world.mail()

    await asyncio.gather(*(writer() for _ in range(8)))
    await _assert_exact(await _filters())
    assert await Invitation.all().count() >= 8 * 4 * 2
