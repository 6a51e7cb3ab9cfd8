"""Prints the median latency of typical admin grid queries at 10,000 and 1,000,000 invitations
(not a test: figures only).

    .venv/bin/python bench/grid.py [--sizes 10000,1000000] [--repeat 7]
    INVITATIONS_BENCH_PG_URL=postgres://postgres@127.0.0.1/postgres .venv/bin/python bench/grid.py

SQLite always (a temporary file); PostgreSQL too when INVITATIONS_BENCH_PG_URL names a server (a
throwaway database is created beside the one named and dropped at the end). Each query is the
domain call behind `invitations(...)` (domain.grid.grid_page) with its totalCount, so the figures
are database time plus the ORM, without HTTP and GraphQL (see docs/performance.md for those costs).
Invitations are seeded with executemany (SQLite) or COPY (PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The root in place of bench/ (a script's own folder): bench/graphql.py would shadow graphql.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from tortoise import Tortoise, connections

from cli.database import migrate
from cli.demo import seed_demo
from config import tortoise_config
from domain import grid
from domain.clock import utcnow
from domain.codes import new_nonce
from models import email_search, invitation_counts
from models.accounts import Customer
from models.invitation import DeliveryState, Invitation, InvitationStatus
from models.store import CustomerGroup, StoreView, Website

STATUSES = [InvitationStatus.SENT] * 5 + [
    InvitationStatus.NOT_SENT,
    InvitationStatus.ACCEPTED,
    InvitationStatus.ACCEPTED,
    InvitationStatus.CANCELED,
]
COLUMNS = (
    "email, email_key, status, created_at, updated_at, sent_at, accepted_at, expires_at, "
    "store_view_id, "
    "website_id, invitee_group_id, inviter_id, created_by_admin_id, invitee_id, code_nonce, "
    "delivery_state, attempts, send_number"
)
START = datetime(2024, 1, 1, tzinfo=UTC)
RESULTS = "RESULTS "
# The e-mail substring search of one address (issue 19's target: p50 <= 20 ms at 1M rows).
SEARCH = "email substring"


async def seed(rows: int, *, postgres: bool, url: str, triggers_on_load: bool) -> None:
    """Bulk-loads `rows` invitations. The invitation_count triggers are dropped for the load and
    the counts rebuilt after it (one INSERT … SELECT … GROUP BY), unless `triggers_on_load`. The
    e-mail search index is dropped for the load and built after it, as migration 0013 builds it
    for the rows there are."""
    await seed_demo()
    client = connections.get("default")
    if not triggers_on_load:
        await invitation_counts.drop_triggers(client)
    await email_search.drop(client)
    began = time.perf_counter()
    await _load(rows, postgres=postgres, url=url)
    loaded = time.perf_counter() - began
    if not triggers_on_load:
        began = time.perf_counter()
        await invitation_counts.install_triggers(client)
        await invitation_counts.rebuild()
        print(
            f"  loaded {rows:,} invitations in {loaded:.1f} s without the count triggers, "
            f"then rebuilt the counts in {time.perf_counter() - began:.1f} s"
        )
    else:
        print(f"  loaded {rows:,} invitations in {loaded:.1f} s with the count triggers on")
    began = time.perf_counter()
    await email_search.install(client)
    print(f"  built the e-mail search index in {time.perf_counter() - began:.1f} s")
    if postgres:
        # As autovacuum leaves a settled table: index-only scans need the visibility map.
        for table in ("invitation", "invitation_count"):
            await client.execute_script(f"VACUUM ANALYZE {table}")
    else:
        await client.execute_script("ANALYZE")


async def _load(rows: int, *, postgres: bool, url: str) -> None:
    website = await Website.get(code="base")
    await Customer.bulk_create(
        [
            Customer(
                website_id=website.id,
                group_id=website.default_group_id,
                email=f"c{i}@bench.example",
                email_key=f"c{i}@bench.example",
                firstname="C",
                lastname=str(i),
                password_hash="x",
                created_at=START,
            )
            for i in range(1000)
        ],
        batch_size=1000,
    )
    customers = [c.id for c in await Customer.all().only("id")]
    views = await StoreView.all()
    groups = [None, *[g.id for g in await CustomerGroup.all()]]
    rng = random.Random(1)
    step = timedelta(days=3 * 365) / rows
    records: list[tuple[Any, ...]] = []
    for i in range(rows):
        created = START + step * i
        status = STATUSES[i % len(STATUSES)]
        view = views[i % len(views)]
        accepted = status is InvitationStatus.ACCEPTED
        # One invitation in a hundred has a 30-day lifetime: most of those open ones have run out
        # (they read EXPIRED), the newest have not.
        expires = created + timedelta(days=30) if i % 100 == 0 else None
        email = f"f{i}@bench.example"
        records.append(
            (
                email,
                email,
                status.value,
                created,
                created,
                None if status is InvitationStatus.NOT_SENT else created + timedelta(minutes=1),
                created + timedelta(days=rng.randrange(30)) if accepted else None,
                expires,
                view.id,
                view.website_id,
                groups[i % len(groups)],
                customers[i % len(customers)] if i % 4 else None,
                None,
                rng.choice(customers) if accepted else None,
                new_nonce(),
                (
                    DeliveryState.QUEUED
                    if status is InvitationStatus.NOT_SENT
                    else DeliveryState.DELIVERED
                ).value,
                0,
                1,
            )
        )
    if postgres:
        conn = await asyncpg.connect(url)
        try:
            await conn.copy_records_to_table(
                "invitation", records=records, columns=[c.strip() for c in COLUMNS.split(",")]
            )
        finally:
            await conn.close()
        return
    # As Tortoise writes datetimes to SQLite (ISO text in UTC), so that comparisons hold.
    text = [tuple(str(v) if isinstance(v, datetime) else v for v in r) for r in records]
    client = connections.get("default")
    marks = ", ".join("?" * len(COLUMNS.split(",")))
    await client.execute_many(f"INSERT INTO invitation ({COLUMNS}) VALUES ({marks})", text)


async def median_ms(run: Callable[[], Awaitable[object]], repeat: int) -> float:
    await run()  # warm the cache and the statement cache
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        await run()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def counter(where: grid.GridFilter, *, exact: bool = False) -> Callable[[], Awaitable[object]]:
    """totalCount as the grid counts it (the summary counts when the filter allows, through
    the e-mail search index when it narrows), or with `exact` the COUNT over the matching rows
    that it used to be (a search: a LIKE over every address)."""

    async def count() -> object:
        now = utcnow()
        scope = where.count_scope()
        if exact:
            return await Invitation.filter(where.condition(now)).count()
        if scope is not None:
            return await invitation_counts.count_in_scope(scope, now)
        return await Invitation.filter(where.condition(now), await where.narrowing()).count()

    return count


Query = tuple[Callable[[], Awaitable[object]], grid.GridFilter]


def queries(rows: int, website_id: int) -> dict[str, Query]:
    def page(
        where: grid.GridFilter | None = None,
        sort: grid.SortField = grid.SortField.ID,
        after: tuple[Any, int] | None = None,
    ) -> Query:
        condition = where or grid.GridFilter()

        async def run() -> object:
            page = await grid.grid_page(
                where=condition, sort=sort, reverse=True, first=20, after=after, now=utcnow()
            )
            return await page.total_count()

        return run, condition

    middle = START + timedelta(days=3 * 365) / 2
    return {
        "first page, unfiltered": page(),
        "status SENT sorted by sent date": page(
            grid.GridFilter(status=[InvitationStatus.SENT]), grid.SortField.SENT_AT
        ),
        "status NOT_SENT+EXPIRED, one website": page(
            grid.GridFilter(
                status=[InvitationStatus.NOT_SENT, InvitationStatus.EXPIRED],
                website_ids=[str(website_id)],
            )
        ),
        "first page sorted by invitee": page(sort=grid.SortField.INVITEE),
        SEARCH: page(grid.GridFilter(email=f"F{rows // 3}@")),
        "email substring, in every address": page(grid.GridFilter(email="bench.example")),
        "email substring, 2 characters": page(grid.GridFilter(email=f"f{rows // 3}"[-2:])),
        "invitee substring": page(grid.GridFilter(invitee="c123@")),
        "deep page via cursor (ID)": page(after=(rows // 2, rows // 2)),
        "deep page via cursor (created)": page(
            sort=grid.SortField.CREATED_AT, after=(middle, rows // 2)
        ),
    }


async def bench(
    url: str,
    sizes: list[int],
    repeat: int,
    results: dict[str, dict[int, float]],
    *,
    triggers_on_load: bool,
) -> None:
    postgres = url.startswith("postgres")
    for rows in sizes:
        config = tortoise_config(url if postgres else url.replace(".sqlite3", f"{rows}.sqlite3"))
        await migrate(config)
        await Tortoise.init(config=config)
        try:
            began = time.perf_counter()
            await seed(rows, postgres=postgres, url=url, triggers_on_load=triggers_on_load)
            print(f"  seeded {rows:,} invitations in {time.perf_counter() - began:.1f} s")
            website = await Website.get(code="base")
            for name, (run, where) in queries(rows, website.id).items():
                fast, exact = await counter(where)(), await counter(where, exact=True)()
                assert fast == exact, f"{name}: totalCount {fast}, an exact COUNT {exact}"
                ms = await median_ms(run, repeat)
                count_ms = await median_ms(counter(where), repeat)
                exact_ms = await median_ms(counter(where, exact=True), repeat)
                results.setdefault(name, {})[rows] = ms
                print(
                    f"  {rows:>9,} rows  {name:<37} p50 {ms:7.1f} ms, of which totalCount "
                    f"{count_ms:6.1f} ms (an exact COUNT: {exact_ms:6.1f} ms)",
                    flush=True,
                )
        finally:
            if postgres:
                await connections.get("default").execute_script(
                    "DROP SCHEMA public CASCADE; CREATE SCHEMA public"
                )
            await Tortoise.close_connections()


def run_one(
    database: str, sizes: str, repeat: int, triggers_on_load: bool
) -> dict[str, dict[int, float]]:
    """Runs one database in a child process: Tortoise keeps per-dialect state for the process."""
    flags = ["--triggers-on-load"] if triggers_on_load else []
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--sizes",
            sizes,
            "--repeat",
            str(repeat),
            "--only",
            database,
            *flags,
        ],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    results: dict[str, dict[int, float]] = {}
    for line in done.stdout.splitlines():
        if line.startswith(RESULTS):
            results = {
                name: {int(size): ms for size, ms in by_size.items()}
                for name, by_size in json.loads(line.removeprefix(RESULTS)).items()
            }
        else:
            print(line, flush=True)
    return results


async def only(database: str, sizes: list[int], repeat: int, triggers_on_load: bool) -> None:
    results: dict[str, dict[int, float]] = {}
    if database == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            await bench(
                f"sqlite://{tmp}/bench.sqlite3",
                sizes,
                repeat,
                results,
                triggers_on_load=triggers_on_load,
            )
    else:
        pg_url = os.environ["INVITATIONS_BENCH_PG_URL"]
        name = f"invitations_bench_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(pg_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            await bench(
                pg_url.rsplit("/", 1)[0] + "/" + name,
                sizes,
                repeat,
                results,
                triggers_on_load=triggers_on_load,
            )
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    print(RESULTS + json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--triggers-on-load",
        action="store_true",
        help="keep the invitation_count triggers on during the bulk load (to time their cost)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.only:
        asyncio.run(only(args.only, sizes, args.repeat, args.triggers_on_load))
        return
    runs = {
        "SQLite": (
            print("SQLite", flush=True),
            run_one("sqlite", args.sizes, args.repeat, args.triggers_on_load),
        )[1]
    }
    if os.environ.get("INVITATIONS_BENCH_PG_URL"):
        print("PostgreSQL", flush=True)
        runs["PostgreSQL"] = run_one("postgres", args.sizes, args.repeat, args.triggers_on_load)
    small, large = min(sizes), max(sizes)
    worst_first, worst_growth, growth_of = 0.0, 0.0, ""
    for database, results in runs.items():
        for name, by_size in results.items():
            if "substring" in name:
                continue  # a search reads an index of its own, or scans (printed below)
            if "first page" in name or name.startswith("status"):
                worst_first = max(worst_first, by_size[large])
            growth = by_size[large] / by_size[small]
            if growth > worst_growth:
                worst_growth, growth_of = growth, f"{database}, {name}"
    for database, results in runs.items():
        for name, by_size in results.items():
            if "substring" in name:
                print(
                    f"{database}: {name} at {large:,} rows, with its totalCount: "
                    f"p50 {by_size[large]:.1f} ms"
                )
    print(f"worst growth: {growth_of}")
    print(
        f"grid worst first-page p50 at 1M: {worst_first:.1f} ms, worst growth: {worst_growth:.1f}"
    )


if __name__ == "__main__":
    main()
