"""Webhook throughput: the whole path (claim, sign, POST, record) beside a plain httpx loop.

Both post the same bodies, with the same number of requests at once, to one loopback receiver
(uvicorn answering 200 to everything) in a process of its own. Prints each side's deliveries per
second, then `sender/raw ratio: <number>`; then the mailer's e-mails per second into an aiosmtpd
sink alone and while the sender drains deliveries beside it in the same process.
Environment: BENCH_DELIVERIES (default 2000), BENCH_CONCURRENCY (default 8), BENCH_ROUNDS (3),
and INVITATIONS_DATABASE_URL (default: a temporary SQLite file).
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
from pathlib import Path

# The root in place of bench/ (a script's own folder): bench/graphql.py would shadow graphql.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from tortoise import Tortoise

from cli.database import migrate
from cli.demo import seed_demo
from cli.process import run_with_uvloop
from config import Settings
from domain import webhooks
from domain.clock import utcnow
from domain.codes import new_nonce
from mailer.sink import HOST, free_port
from mailer.transport import SmtpConfig, SmtpTransport
from mailer.webhooks import WebhookSender
from mailer.worker import Mailer
from models.invitation import Invitation
from models.store import StoreView
from models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEventType

DELIVERIES = int(os.environ.get("BENCH_DELIVERIES", "2000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECRET = "bench-secret-key-that-is-long-enough-0123456789"

RECEIVER = """
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})
uvicorn.run(app, host=sys.argv[1], port=int(sys.argv[2]), log_level="warning",
            lifespan="off", access_log=False)
"""


@contextlib.contextmanager
def receiver_process(port: int) -> Iterator[None]:
    with serving([sys.executable, "-c", RECEIVER, HOST, str(port)], port):
        yield


@contextlib.contextmanager
def sink_process(port: int) -> Iterator[None]:
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink"]
    with serving([*command, "-l", f"{HOST}:{port}"], port):
        yield


@contextlib.contextmanager
def serving(command: list[str], port: int) -> Iterator[None]:
    process = subprocess.Popen(command)
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


async def queue(count: int, *, mail: bool = False) -> None:
    """`count` invitations (queued for the mailer with `mail`), each with an invitation.created
    delivery for the one endpoint."""
    store_view = await StoreView.get(code="default")
    now = utcnow()
    await Invitation.bulk_create(
        [
            Invitation(
                email=f"w{i}@example.com",
                email_key=f"w{i}@example.com",
                created_at=now,
                updated_at=now,
                store_view_id=store_view.id,
                website_id=store_view.website_id,
                code_nonce=new_nonce(),
                delivery_state="QUEUED" if mail else "DELIVERED",
            )
            for i in range(count)
        ],
        batch_size=500,
    )
    ids = await Invitation.all().values_list("id", flat=True)
    await webhooks.record(WebhookEventType.INVITATION_CREATED, [int(i) for i in ids])


async def whole_path(settings: Settings) -> float:
    await queue(DELIVERIES)
    sender = WebhookSender(settings, batch_size=200)
    started = time.perf_counter()
    while await sender.run_once():
        pass
    elapsed = time.perf_counter() - started
    await sender.close()
    delivered = await WebhookDelivery.filter(state="DELIVERED").count()
    assert delivered == DELIVERIES, delivered
    return DELIVERIES / elapsed


async def raw_baseline(url: str) -> float:
    await queue(DELIVERIES)
    bodies = await WebhookDelivery.all().values_list("body", flat=True)
    slots = asyncio.Semaphore(CONCURRENCY)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=15) as client:
        started = time.perf_counter()

        async def post(body: str) -> None:
            async with slots:
                response = await client.post(
                    url, content=body.encode(), headers={"content-type": "application/json"}
                )
                assert response.status_code == 200

        await asyncio.gather(*(post(str(body)) for body in bodies))
        return len(bodies) / (time.perf_counter() - started)


async def mailer_rate(settings: Settings, smtp_port: int, *, with_webhooks: bool) -> float:
    """E-mails per second of one mailer draining `DELIVERIES` e-mails, alone or while a sender
    drains as many webhook deliveries beside it."""
    await queue(DELIVERIES, mail=True)
    if not with_webhooks:
        await WebhookDelivery.all().delete()
    transport = SmtpTransport(SmtpConfig(HOST, smtp_port), connections=4)
    mailer = Mailer(settings, transport)
    sender = WebhookSender(settings, batch_size=200)

    async def webhooks_flow() -> None:
        while await sender.run_once():
            pass

    started = time.perf_counter()
    flowing = asyncio.ensure_future(webhooks_flow())
    while (await mailer.run_once()).claimed:
        pass
    elapsed = time.perf_counter() - started
    await flowing
    await sender.close()
    await transport.close()
    return DELIVERIES / elapsed


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("INVITATIONS_DATABASE_URL", f"sqlite://{tmp}/bench.sqlite3")
        settings = Settings(
            database_url=url,
            secret_key=SECRET,
            webhook_concurrency_per_endpoint=CONCURRENCY,
        )
        config = settings.tortoise_config()
        await migrate(config)
        await Tortoise.init(config=config)
        await seed_demo()
        port = free_port()
        target = f"http://{HOST}:{port}/hook"
        keys = webhooks.Keys(secret_key=SECRET, allow_private=True)
        await webhooks.create(
            url=target, events=[WebhookEventType.INVITATION_CREATED], description=None, keys=keys
        )
        sender_rates: list[float] = []
        raw_rates: list[float] = []
        alone: list[float] = []
        beside: list[float] = []
        smtp_port = free_port()
        try:
            with receiver_process(port), sink_process(smtp_port):
                for _ in range(ROUNDS):
                    sender_rates.append(await whole_path(settings))
                    await Invitation.all().delete()
                    await WebhookDelivery.all().delete()
                    raw_rates.append(await raw_baseline(target))
                    await Invitation.all().delete()
                    await WebhookDelivery.all().delete()
                    for rates, flowing in ((alone, False), (beside, True)):
                        rates.append(await mailer_rate(settings, smtp_port, with_webhooks=flowing))
                        await Invitation.all().delete()
                        await WebhookDelivery.all().delete()
        finally:
            await WebhookEndpoint.all().delete()
            await Tortoise.close_connections()
    dialect = "sqlite" if settings.is_sqlite else "postgres"
    print(f"{DELIVERIES} deliveries x {ROUNDS} rounds, {CONCURRENCY} at once, {dialect}")
    for name, rates in (
        ("sender (claim, sign, POST, record)", sender_rates),
        ("plain httpx loop, same bodies", raw_rates),
    ):
        rounds = " ".join(f"{r:.0f}" for r in rates)
        print(f"{name:<40}{statistics.median(rates):>8.0f}/s  {rounds}")
    ratio = statistics.median(sender_rates) / statistics.median(raw_rates)
    print(f"sender/raw ratio: {ratio:.2f}")
    for name, rates in (
        ("mailer alone (e-mails/s)", alone),
        ("mailer while webhooks flow (e-mails/s)", beside),
    ):
        rounds = " ".join(f"{r:.0f}" for r in rates)
        print(f"{name:<40}{statistics.median(rates):>8.0f}/s  {rounds}")


if __name__ == "__main__":
    run_with_uvloop(main())
