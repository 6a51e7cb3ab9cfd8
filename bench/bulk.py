"""Prints the rows per second of a bulk DISCARD ("Select All") and the latency of myInvitations
while it runs, beside idle (not a test: figures only).

    .venv/bin/python bench/bulk.py [--sizes 100000,1000000] [--only sqlite|postgres]
        [--pause-ratios 0,0.5] (INVITATIONS_BULK_PAUSE_RATIO of the worker; default: the setting's)
    INVITATIONS_BENCH_PG_URL=postgres://postgres@127.0.0.1/postgres .venv/bin/python bench/bulk.py

SQLite always (a temporary file); PostgreSQL too when INVITATIONS_BENCH_PG_URL (or, under
.ci/with-postgres, INVITATIONS_TEST_DATABASE_URL) names a server: a throwaway database is created
beside it and dropped at the end. The operation is run by one real worker process
(`python -m cli worker`), as deployed; myInvitations goes through the whole app (HTTP via ASGI,
GraphQL, the ORM) in this process, one request at a time, for a customer with 50 invitations.
Rows/s counts from the mutation's start (the selection is fixed by then) to COMPLETED.
Goals: >= 5,000 rows/s; myInvitations p99 during the run <= 2x idle.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The root in place of bench/ (a script's own folder): bench/graphql.py would shadow graphql.
sys.path.pop(0)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg
import httpx
from tortoise import Tortoise, connections

from app import create_app
from cli.database import migrate
from cli.demo import seed_demo
from config import Settings, tortoise_config
from domain import bulk
from domain.codes import new_nonce
from domain.grid import GridFilter
from domain.tokens import issue_token
from models import invitation_counts
from models.accounts import AdminUser, Customer
from models.bulk import BulkAction, BulkOperation, BulkStatus
from models.invitation import InvitationStatus
from models.store import StoreView, Website

SECRET = "bench-secret-key-that-is-long-enough-0123456789"
START = datetime(2024, 1, 1, tzinfo=UTC)
COLUMNS = [
    "email",
    "email_key",
    "status",
    "created_at",
    "updated_at",
    "store_view_id",
    "website_id",
    "inviter_id",
    "code_nonce",
    "delivery_state",
    "attempts",
    "send_number",
]
MINE = "{ myInvitations(first: 20) { totalCount nodes { id email status } } }"
IDLE_REQUESTS = 300


async def load(rows: int, *, url: str, postgres: bool) -> Customer:
    """`rows` SENT invitations (the selection) and a customer with 50 of their own (NOT_SENT,
    outside it)."""
    await seed_demo()
    website = await Website.get(code="base")
    view = await StoreView.get(code="default")
    customer = await Customer.create(
        website_id=website.id,
        group_id=website.default_group_id,
        email="bench@bench.example",
        email_key="bench@bench.example",
        firstname="B",
        lastname="B",
        password_hash="x",
        created_at=START,
    )
    client = connections.get("default")
    await invitation_counts.drop_triggers(client)
    records: list[tuple[Any, ...]] = []
    for i in range(rows + 50):
        mine = i >= rows
        email = f"f{i}@bench.example"
        created = START + timedelta(seconds=i)
        records.append(
            (
                email,
                email,
                (InvitationStatus.NOT_SENT if mine else InvitationStatus.SENT).value,
                created,
                created,
                view.id,
                website.id,
                customer.id if mine else None,
                new_nonce(),
                "DELIVERED",
                0,
                1,
            )
        )
    if postgres:
        conn = await asyncpg.connect(url)
        try:
            await conn.copy_records_to_table("invitation", records=records, columns=COLUMNS)
        finally:
            await conn.close()
    else:
        text = [tuple(str(v) if isinstance(v, datetime) else v for v in r) for r in records]
        marks = ", ".join("?" * len(COLUMNS))
        await client.execute_many(
            f"INSERT INTO invitation ({', '.join(COLUMNS)}) VALUES ({marks})",
            text,
        )
    await invitation_counts.install_triggers(client)
    await invitation_counts.rebuild()
    if postgres:
        await client.execute_script("VACUUM ANALYZE invitation")
    else:
        await client.execute_script("ANALYZE")
    return customer


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def one_run(url: str, rows: int, pause_ratio: str | None) -> dict[str, float]:
    postgres = url.startswith("postgres")
    settings = Settings(database_url=url, secret_key=SECRET, mail_dir=tempfile.mkdtemp())
    config = tortoise_config(url)
    await migrate(config)
    await Tortoise.init(config=config, _enable_global_fallback=True)
    try:
        customer = await load(rows, url=url, postgres=postgres)
        token = (await issue_token(customer=customer, ttl_seconds=3600)).token
        admin = await AdminUser.create(
            username="bench", password_hash="x", permissions=["INVITATIONS"], created_at=START
        )
        app = create_app(settings, manage_database=False)
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:

            async def mine() -> float:
                began = time.perf_counter()
                response = await http.post("/graphql", json={"query": MINE}, headers=headers)
                assert response.status_code == 200, response.text
                assert "errors" not in response.json(), response.text
                return (time.perf_counter() - began) * 1000

            for _ in range(30):
                await mine()
            idle = [await mine() for _ in range(IDLE_REQUESTS)]

            env = {
                **os.environ,
                "INVITATIONS_DATABASE_URL": url,
                "INVITATIONS_SECRET_KEY": SECRET,
                "INVITATIONS_MAIL_DIR": settings.mail_dir,
                "INVITATIONS_MAILER_POLL_SECONDS": "0.05",
            }
            if pause_ratio is not None:
                env["INVITATIONS_BULK_PAUSE_RATIO"] = pause_ratio
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "cli", "worker", cwd=ROOT, env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            try:
                await asyncio.sleep(1.5)  # the worker is up and polling
                began = time.perf_counter()
                operation = await bulk.start(
                    admin=admin,
                    action=BulkAction.DISCARD,
                    where=GridFilter(status=[InvitationStatus.SENT]),
                    exclude_ids=[],
                )
                selected = time.perf_counter() - began
                assert operation.total == rows
                during: list[float] = []
                while True:
                    during.append(await mine())
                    status = (await BulkOperation.get(id=operation.id)).status
                    if status is not BulkStatus.RUNNING and status is not BulkStatus.QUEUED:
                        break
                elapsed = time.perf_counter() - began
            finally:
                worker.terminate()
                await worker.wait()
        assert status is BulkStatus.COMPLETED, status
        return {
            "rows_per_s": rows / elapsed,
            "select_s": selected,
            "total_s": elapsed,
            "idle_p50": statistics.median(idle),
            "idle_p99": percentile(idle, 0.99),
            "during_p50": statistics.median(during),
            "during_p99": percentile(during, 0.99),
            "during_n": len(during),
        }
    finally:
        await Tortoise.close_connections()


async def run(kind: str, sizes: list[int], ratios: list[str | None]) -> None:
    for rows, pause_ratio in [(rows, ratio) for rows in sizes for ratio in ratios]:
        if kind == "sqlite":
            folder = tempfile.mkdtemp()
            url = f"sqlite://{folder}/bench.sqlite3"
            figures = await one_run(url, rows, pause_ratio)
        else:
            base = os.environ.get("INVITATIONS_BENCH_PG_URL") or os.environ.get(
                "INVITATIONS_TEST_DATABASE_URL", ""
            )
            name = f"bench_bulk_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect(base)
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                figures = await one_run(base.rsplit("/", 1)[0] + "/" + name, rows, pause_ratio)
            finally:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()
        print(
            f"{kind:<10} DISCARD {rows:>9,} rows, pause ratio {pause_ratio or 'default':>7}: "
            f"{figures['rows_per_s']:>8,.0f} rows/s "
            f"({figures['total_s']:.1f} s, selection fixed in {figures['select_s']:.2f} s) | "
            f"myInvitations ms idle p50 {figures['idle_p50']:.1f} p99 {figures['idle_p99']:.1f}"
            f" | during p50 {figures['during_p50']:.1f} p99 {figures['during_p99']:.1f}"
            f" ({figures['during_n']} requests)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--pause-ratios", default="")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    ratios: list[str | None] = [r for r in args.pause_ratios.split(",") if r] or [None]
    pg = os.environ.get("INVITATIONS_BENCH_PG_URL") or os.environ.get(
        "INVITATIONS_TEST_DATABASE_URL"
    )
    if args.only:
        asyncio.run(run(args.only, sizes, ratios))
        return
    # One process per database: Tortoise keeps each model's compiled queries in the dialect of
    # the first database it was initialised with.
    for kind in ["sqlite", *(["postgres"] if pg else [])]:
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--only",
                kind,
                "--sizes",
                args.sizes,
                "--pause-ratios",
                args.pause_ratios,
            ],
            check=True,
        )


if __name__ == "__main__":
    main()
