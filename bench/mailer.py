"""Mailer throughput: the whole path (claim, render, send, record) beside plain aiosmtplib.

Both send the same number of e-mails over the same number of connections to one loopback
aiosmtpd sink that discards them, in a process of its own (as a real server would be: in this
process it would compete for the interpreter with the code under test).
Both run on uvloop, the event loop the product runs the mailer on. Prints a table with each
side's e-mails per second and this process's CPU per e-mail, then `mailer/raw ratio: <number>`.
Environment: BENCH_EMAILS (default 2000), BENCH_CONNECTIONS (default 4), BENCH_ROUNDS (5), and
INVITATIONS_DATABASE_URL (default: a temporary SQLite file).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# The root in place of bench/ (a script's own folder): bench/graphql.py would shadow graphql.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiosmtplib
from tortoise import Tortoise

from cli.database import migrate
from cli.demo import seed_demo
from cli.main import run_with_uvloop
from config import Settings
from domain.clock import utcnow
from domain.codes import new_nonce
from mailer import compose, outbox
from mailer.message import build
from mailer.sink import HOST, free_port
from mailer.transport import SmtpConfig, SmtpTransport
from mailer.worker import Mailer
from models.invitation import Invitation
from models.store import StoreView

EMAILS = int(os.environ.get("BENCH_EMAILS", "2000"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


@contextlib.contextmanager
def sink_process(port: int) -> Iterator[None]:
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink"]
    process = subprocess.Popen([*command, "-l", f"{HOST}:{port}"])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait()


async def queue(count: int, prefix: str) -> None:
    store_view = await StoreView.get(code="default")
    now = utcnow()
    await Invitation.bulk_create(
        [
            Invitation(
                email=f"{prefix}{i}@example.com",
                email_key=f"{prefix}{i}@example.com",
                message="Dear friend,\nour private sale opens tomorrow. <Come early!>",
                created_at=now,
                updated_at=now,
                store_view_id=store_view.id,
                website_id=store_view.website_id,
                code_nonce=new_nonce(),
            )
            for i in range(count)
        ],
        batch_size=500,
    )


@dataclass(frozen=True, slots=True)
class Round:
    """One timed run: e-mails per second, and this process's CPU milliseconds per e-mail."""

    rate: float
    cpu_ms: float


async def whole_path(settings: Settings, port: int) -> Round:
    await queue(EMAILS, "whole")
    transport = SmtpTransport(SmtpConfig(HOST, port), connections=CONNECTIONS)
    mailer = Mailer(settings, transport)
    started, cpu = time.perf_counter(), time.process_time()
    while (await mailer.run_once()).claimed:
        pass
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await transport.close()
    delivered = await Invitation.filter(delivery_state="DELIVERED").count()
    assert delivered == EMAILS, delivered
    return Round(EMAILS / elapsed, cpu * 1000 / EMAILS)


async def raw_baseline(settings: Settings, port: int) -> Round:
    await queue(EMAILS, "raw")
    # Pre-built messages: the same bytes the mailer would send, made before the clock starts.
    rows = await outbox.claim(EMAILS, lease_seconds=600)
    batch = await compose.load(rows, secret=settings.secret_key)
    messages = [(row.email, build(batch.mail_for(row, batch.message_id(row)))) for row in rows]
    sender = batch.stores[rows[0].store_view_id].sender.email
    clients = [
        aiosmtplib.SMTP(hostname=HOST, port=port, local_hostname="bench")
        for _ in range(CONNECTIONS)
    ]
    for client in clients:
        await client.connect()
    started, cpu = time.perf_counter(), time.process_time()

    async def lane(client: aiosmtplib.SMTP, share: list[tuple[str, bytes]]) -> None:
        for recipient, data in share:
            await client.sendmail(sender, [recipient], data)

    await asyncio.gather(*(lane(c, messages[i::CONNECTIONS]) for i, c in enumerate(clients)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    for client in clients:
        await client.quit()
    return Round(len(messages) / elapsed, cpu * 1000 / len(messages))


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("INVITATIONS_DATABASE_URL", f"sqlite://{tmp}/bench.sqlite3")
        settings = Settings(
            database_url=url,
            secret_key="bench-secret-key-that-is-long-enough-0123456789",
            mailer_batch_size=100,
            mailer_connections=CONNECTIONS,
        )
        config = settings.tortoise_config()
        await migrate(config)
        await Tortoise.init(config=config)
        await Invitation.all().delete()
        await seed_demo()
        port = free_port()
        mailer_rounds: list[Round] = []
        raw_rounds: list[Round] = []
        try:
            with sink_process(port):
                # Alternate the two and compare medians: a shared machine is noisy.
                for _ in range(ROUNDS):
                    mailer_rounds.append(await whole_path(settings, port))
                    await Invitation.all().delete()
                    raw_rounds.append(await raw_baseline(settings, port))
                    await Invitation.all().delete()
        finally:
            await Tortoise.close_connections()
    dialect = "sqlite" if settings.is_sqlite else "postgres"
    print(f"{EMAILS} e-mails x {ROUNDS} rounds, {CONNECTIONS} SMTP connections, {dialect}")
    print(f"{'path (e-mails/s per round)':<40}{'median':>8}  {'CPU ms/e-mail':>13}  rounds")
    for name, rounds in (
        ("mailer (claim, render, send, record)", mailer_rounds),
        ("raw aiosmtplib, pre-built messages", raw_rounds),
    ):
        rate = statistics.median(r.rate for r in rounds)
        cpu_ms = statistics.median(r.cpu_ms for r in rounds)
        rates = " ".join(f"{r.rate:.0f}" for r in rounds)
        print(f"{name:<40}{rate:>8.0f}  {cpu_ms:>13.3f}  {rates}")
    mailer_rate = statistics.median(r.rate for r in mailer_rounds)
    raw_rate = statistics.median(r.rate for r in raw_rounds)
    print(f"mailer/raw ratio: {mailer_rate / raw_rate:.2f}")


if __name__ == "__main__":
    # The loop the product runs the mailer on (`invitations serve` and `worker`); both sides of
    # the comparison share it.
    run_with_uvloop(main())
