"""A 10 s database outage during 3,000 sends: what `serve` and `worker` make of it.

Runs one `invitations serve` (mailer off) and one `invitations worker` as processes of their own
on the PostgreSQL cluster of .ci/with-postgres, sending into an aiosmtpd server in this process
(10 ms a message). Once 500 e-mails are out, the cluster is killed (`pg_ctl stop -m immediate`)
for BENCH_OUTAGE_SECONDS (10) and started again, while a client asks `serve` 15 times a second
(signed in, anonymous, a resolver that reads the database; both media types). Prints: e-mails
lost, duplicates, seconds from the restart until sending resumed, requests refused (and whether
all were JSON 503 SERVICE_UNAVAILABLE), and the log lines both processes wrote (their standard
error; uvicorn's access log, one line per request on standard output, is counted apart).

    .ci/with-postgres .venv/bin/python bench/outage.py

The lease is 30 s, longer than the outage, and the script waits it out before counting, so a
dropped "delivered" would show as a duplicate. Environment: BENCH_EMAILS (3000),
BENCH_OUTAGE_SECONDS (10).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from email import message_from_bytes
from pathlib import Path
from typing import Any

sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
import httpx
from aiosmtpd.controller import Controller
from tortoise import Tortoise

from cli.database import migrate
from cli.demo import seed_demo
from config import Settings, tortoise_config
from domain.clock import utcnow
from domain.codes import new_nonce
from domain.outage import quiet_pool_reconnects
from mailer.sink import HOST, free_port
from models.invitation import DeliveryState, Invitation
from models.store import StoreView

ROOT = Path(__file__).resolve().parents[1]
EMAILS = int(os.environ.get("BENCH_EMAILS", "3000"))
OUTAGE_SECONDS = float(os.environ.get("BENCH_OUTAGE_SECONDS", "10"))
LEASE_SECONDS = 30.0
PG_CTL = os.environ.get("INVITATIONS_TEST_PG_CTL", "")
BASE_URL = os.environ.get("INVITATIONS_TEST_DATABASE_URL", "")
REQUESTS = [
    ('{"query": "{ __typename }"}', "Bearer not-a-token"),
    ('{"query": "{ __typename }"}', None),
    ('{"query": "{ storefrontInvitationSettings { enabled } }"}', None),
]
MEDIA_TYPES = ("application/json", "application/graphql-response+json")


class Sink:
    """Counts each invitation's copies, and when each arrived."""

    def __init__(self) -> None:
        self.copies: Counter[str] = Counter()
        self.arrivals: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        await asyncio.sleep(0.01)
        message = message_from_bytes(envelope.original_content)
        self.copies[str(message["X-Invitation-Id"])] += 1
        self.arrivals.append(time.monotonic())
        return "250 OK"


def pg_ctl(*args: str) -> None:
    subprocess.run([PG_CTL, *args], check=True, capture_output=True)


async def prepare(database_url: str) -> None:
    admin = await asyncpg.connect(BASE_URL)
    await admin.execute(f'CREATE DATABASE "{database_url.rsplit("/", 1)[1]}"')
    # As in production: commits survive a killed server (the test cluster runs without, and a
    # database's setting outranks the server's command line).
    await admin.execute(
        f'ALTER DATABASE "{database_url.rsplit("/", 1)[1]}" SET synchronous_commit = on'
    )
    await admin.close()
    config = tortoise_config(database_url)
    await migrate(config)
    await Tortoise.init(config=config)
    await seed_demo()
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
            for i in range(EMAILS)
        ],
        batch_size=1000,
    )


async def client(port: int, stop: asyncio.Event, answers: list[tuple[float, int, str]]) -> None:
    """15 requests a second; each answer as (time, status, extensions.code or media type)."""
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=10) as http:
        i = 0
        while not stop.is_set():
            body, token = REQUESTS[i % len(REQUESTS)]
            accept = MEDIA_TYPES[i // len(REQUESTS) % 2]
            headers = {"content-type": "application/json", "accept": accept}
            if token:
                headers["authorization"] = token
            i += 1
            try:
                response = await http.post("/graphql", content=body, headers=headers)
                kind = response.headers.get("content-type", "")
                if response.status_code == 503 and kind.startswith(accept):
                    codes = [e["extensions"]["code"] for e in response.json()["errors"]]
                    kind = "SERVICE_UNAVAILABLE" if codes == ["SERVICE_UNAVAILABLE"] else kind
                answers.append((time.monotonic(), response.status_code, kind))
            except httpx.TransportError as error:
                answers.append((time.monotonic(), 0, type(error).__name__))
            await asyncio.sleep(1 / 15)


def lines(path: Path) -> int:
    return len(path.read_text().splitlines())


async def main() -> None:
    if not (PG_CTL and BASE_URL.startswith("postgres")):
        sys.exit("run under .ci/with-postgres: it gives this script a cluster it may stop")
    quiet_pool_reconnects()
    database_url = BASE_URL.rsplit("/", 1)[0] + f"/bench_outage_{uuid.uuid4().hex[:8]}"
    await prepare(database_url)
    sink = Sink()
    smtp_port, port = free_port(), free_port()
    controller = Controller(sink, hostname=HOST, port=smtp_port)
    controller.start()
    settings = Settings(database_url=database_url)
    env = {
        **os.environ,
        "INVITATIONS_DATABASE_URL": settings.database_url,
        "INVITATIONS_SMTP_URL": f"smtp://{HOST}:{smtp_port}",
        "INVITATIONS_SECRET_KEY": "bench-outage-secret-key-0123456789abcdef",
        "INVITATIONS_PORT": str(port),
        "INVITATIONS_MAILER_IN_PROCESS": "false",
        "INVITATIONS_MAILER_LEASE_SECONDS": str(LEASE_SECONDS),
        "INVITATIONS_MAILER_POLL_SECONDS": "0.5",
    }
    logs = Path(tempfile.mkdtemp(prefix="bench-outage-"))
    processes = []
    for name in ("serve", "worker"):
        with (logs / f"{name}.err").open("wb") as err, (logs / f"{name}.out").open("wb") as out:
            processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "cli", name, cwd=ROOT, env=env, stdout=out, stderr=err
                )
            )
    stop_client = asyncio.Event()
    answers: list[tuple[float, int, str]] = []
    asking = None
    try:
        while len(sink.arrivals) < 500:
            await asyncio.sleep(0.05)
        asking = asyncio.create_task(client(port, stop_client, answers))
        await asyncio.sleep(1)
        before = {p.name: lines(p) for p in logs.glob("*")}
        down = time.monotonic()
        pg_ctl("stop", "-m", "immediate")
        await asyncio.sleep(OUTAGE_SECONDS)
        pg_ctl("start")
        back = time.monotonic()
        await asyncio.sleep(3)
        stop_client.set()
        await asyncio.sleep(max(0.0, down + LEASE_SECONDS + 2 - time.monotonic()))
        while True:  # this process's own pool reconnects too
            try:
                waiting = await Invitation.exclude(delivery_state=DeliveryState.DELIVERED).count()
                break
            except Exception:
                await asyncio.sleep(0.1)
        written = {name: lines(logs / name) - n for name, n in before.items()}
    finally:
        stop_client.set()
        if asking is not None:
            await asking
        for process in processes:
            process.terminate()
            await process.wait()
        controller.stop()
        await Tortoise.close_connections()
        admin = await asyncpg.connect(BASE_URL)
        await admin.execute(f'DROP DATABASE "{database_url.rsplit("/", 1)[1]}" WITH (FORCE)')
        await admin.close()

    resumed = min((t for t in sink.arrivals if t > back), default=float("nan")) - back
    during = [a for a in answers if down + 0.05 < a[0] < back]
    refused = [a for a in during if a[1] == 503 and a[2] == "SERVICE_UNAVAILABLE"]
    others = Counter(
        (status, kind)
        for _, status, kind in during
        if (status, kind) not in {(503, "SERVICE_UNAVAILABLE")}
    )
    after = [a for a in answers if a[0] > back + 1.0]
    print(f"e-mails: {EMAILS}, outage: {OUTAGE_SECONDS:.0f} s, lease: {LEASE_SECONDS:.0f} s")
    print(
        f"lost (not delivered, or never at the server): {max(waiting, EMAILS - len(sink.copies))}"
    )
    print(f"duplicates: {sum(sink.copies.values()) - len(sink.copies)}")
    print(f"seconds until sending resumed: {resumed:.2f}")
    print(
        f"requests refused: {len(refused)} of {len(during)} during the outage, all JSON 503 "
        f"SERVICE_UNAVAILABLE: {not others} {dict(others) if others else ''}".rstrip()
    )
    print(f"answers 1 s after the restart: {Counter(s for _, s, _ in after)}")
    print(
        "log lines written from the outage on: "
        f"serve {written['serve.err']}, worker {written['worker.err']}, "
        f"total {written['serve.err'] + written['worker.err']} "
        f"(+ {written['serve.out']} access-log lines of serve)"
    )
    print(f"logs: {logs}")


if __name__ == "__main__":
    asyncio.run(main())
