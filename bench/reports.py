"""Prints how long the two reports take over many invitations (not a test: figures only).

    .venv/bin/python bench/reports.py [--rows 200000] [--database-url postgres://.../postgres]

Without --database-url it uses a temporary SQLite file; with a PostgreSQL URL it creates a
throwaway database beside the one named and drops it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# The root in place of bench/ (a script's own folder): bench/graphql.py would shadow graphql.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from tortoise import Tortoise

from cli.database import migrate
from cli.demo import seed_demo
from config import tortoise_config
from domain import reports
from domain.codes import new_nonce
from models.accounts import Customer
from models.invitation import Invitation, InvitationStatus
from models.store import StoreView, Website

STATUSES = [InvitationStatus.SENT] * 5 + [
    InvitationStatus.NOT_SENT,
    InvitationStatus.ACCEPTED,
    InvitationStatus.ACCEPTED,
    InvitationStatus.CANCELED,
]


async def seed(rows: int) -> None:
    await seed_demo()
    website = await Website.get(code="base")
    views = await StoreView.all()
    customers = [
        Customer(
            website_id=website.id,
            group_id=website.default_group_id,
            email=f"c{i}@bench.example",
            email_key=f"c{i}@bench.example",
            firstname="C",
            lastname=str(i),
            password_hash="x",
            created_at=datetime.now(UTC),
        )
        for i in range(1000)
    ]
    await Customer.bulk_create(customers, batch_size=1000)
    inviter_ids = [c.id for c in await Customer.all().only("id")]
    start, step = datetime(2024, 1, 1, tzinfo=UTC), timedelta(days=3 * 365) / rows
    batch: list[Invitation] = []
    for i in range(rows):
        created = start + step * i
        status = STATUSES[i % len(STATUSES)]
        view = views[i % len(views)]
        batch.append(
            Invitation(
                email=f"f{i}@bench.example",
                email_key=f"f{i}@bench.example",
                created_at=created,
                updated_at=created,
                sent_at=None if status is InvitationStatus.NOT_SENT else created,
                status=status,
                store_view_id=view.id,
                website_id=view.website_id,
                inviter_id=inviter_ids[i % len(inviter_ids)] if i % 4 else None,
                code_nonce=new_nonce(),
            )
        )
        if len(batch) == 10_000:
            await Invitation.bulk_create(batch)
            batch = []
    if batch:
        await Invitation.bulk_create(batch)


async def median_ms(run: Callable[[], Awaitable[object]], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        await run()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


async def bench(url: str, rows: int) -> None:
    config = tortoise_config(url)
    await migrate(config)
    await Tortoise.init(config=config)
    try:
        began = time.perf_counter()
        await seed(rows)
        print(f"seeded {rows} invitations in {time.perf_counter() - began:.1f} s")

        def span(start: date, end: date, period: reports.Period) -> reports.ReportRange:
            return reports.ReportRange.checked(
                start=start, end=end, period=period, timezone="America/New_York"
            )

        cases = {
            "DAY, 3660 days": span(date(2017, 1, 1), date(2027, 1, 8), reports.Period.DAY),
            "DAY, 31 days": span(date(2025, 3, 1), date(2025, 3, 31), reports.Period.DAY),
            "MONTH, 3 years": span(date(2024, 1, 1), date(2026, 12, 31), reports.Period.MONTH),
            "YEAR, 100 years": span(date(1927, 1, 1), date(2026, 12, 31), reports.Period.YEAR),
        }
        for name, report in cases.items():
            ms = await median_ms(lambda r=report: reports.invitations_report(r))
            print(f"invitationsReport {name}: p50 {ms:.1f} ms")
        whole = cases["MONTH, 3 years"]
        ms = await median_ms(lambda: reports.invited_customers_report(whole, first=100))
        print(f"invitedCustomersReport 3 years, first 100: p50 {ms:.1f} ms")
    finally:
        await Tortoise.close_connections()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if not args.database_url or not args.database_url.startswith("postgres"):
        with tempfile.TemporaryDirectory() as tmp:
            print("SQLite")
            await bench(args.database_url or f"sqlite://{tmp}/bench.sqlite3", args.rows)
        return
    name = f"invitations_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(args.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        print("PostgreSQL")
        await bench(args.database_url.rsplit("/", 1)[0] + "/" + name, args.rows)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
