"""Mailer throughput: the whole path (claim, render, send, record) beside plain aiosmtplib.

Both send the same number of e-mails over the same number of connections to one loopback
aiosmtpd sink that discards them, in a process of its own (as a real server would be: in this
process it would compete for the interpreter with the code under test).
Both run on uvloop, the event loop the product runs the mailer on. Prints a table with each
side's e-mails per second and this process's CPU per e-mail, then `mailer/raw ratio: <number>`;
a third row drains as many e-mails while each first delivery's invitation.sent webhook is posted
to a loopback receiver (a process of its own) by a WebhookSender beside the mailer.
Environment: BENCH_EMAILS (default 2000), BENCH_CONNECTIONS (default 4), BENCH_ROUNDS (5), and
INVITATIONS_DATABASE_URL or INVITATIONS_TEST_DATABASE_URL (`.ci/with-postgres` sets it; default:
a temporary SQLite file).

`--workers N [N ...]` (PostgreSQL): scale-out instead. For each N, BENCH_SCALE_EMAILS (default
6000) invitations are drained by N worker processes of their own (each a Mailer with
BENCH_CONNECTIONS connections) into one counting sink; prints e-mails/s, the CPU milliseconds
per e-mail of the PostgreSQL server's processes (read from /proc, so the server must run on this
machine: `.ci/with-postgres` gives its data directory in INVITATIONS_TEST_PG_DATA), of the
workers from the start signal on, and of the sink, each worker's start-up CPU seconds (imports,
connecting: left out of its CPU per e-mail), the backends found waiting on a lock
(pg_stat_activity, sampled), the share of
invitation updates that were HOT, the duplicates the sink received (must be 0), and the CPU
ceiling: the machine's cores over the database's, the workers' and the sink's CPU per e-mail
together, the most e-mails/s this machine could send at those costs (with the rate's share of it).

`--strip-invitation` (either mode) drops the non-unique indexes of `invitation` and its count
triggers for the run (and creates them again at its end): the most that a narrow outbox row of
its own (two of an e-mail's three writes off `invitation`) could save on the database's side, as
a bound.
bench/outbox_writes.py measures the database's CPU of the mailer's writes alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# The root in place of bench/ (a script's own folder): bench/graphql.py would shadow graphql.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiosmtplib
from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient

from cli.database import migrate
from cli.demo import seed_demo
from cli.process import run_with_uvloop
from config import Settings
from domain import webhooks
from domain.clock import utcnow
from domain.codes import new_nonce
from mailer import compose, outbox
from mailer.message import build
from mailer.sink import HOST, free_port
from mailer.transport import SmtpConfig, SmtpTransport
from mailer.webhooks import WebhookSender
from mailer.worker import Mailer
from models.invitation import Invitation
from models.store import StoreView
from models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEventType

EMAILS = int(os.environ.get("BENCH_EMAILS", "2000"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SCALE_EMAILS = int(os.environ.get("BENCH_SCALE_EMAILS", "6000"))
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


def database_url(tmp: str) -> str:
    return (
        os.environ.get("INVITATIONS_DATABASE_URL")
        or os.environ.get("INVITATIONS_TEST_DATABASE_URL")
        or f"sqlite://{tmp}/bench.sqlite3"
    )


def bench_settings(url: str) -> Settings:
    return Settings(
        database_url=url,
        secret_key=SECRET,
        mailer_batch_size=100,
        mailer_connections=CONNECTIONS,
    )


@contextlib.contextmanager
def sink_process(port: int) -> Iterator[int]:
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
        yield process.pid
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


async def strip_invitation(client: BaseDBAsyncClient) -> list[str]:
    """Drop the non-unique indexes and the count triggers of `invitation` (`--strip-invitation`);
    the statements that create them again (`restore_invitation`), so that a database named by
    INVITATIONS_DATABASE_URL is left as it was found."""
    if client.capabilities.dialect == "postgres":
        indexes = await client.execute_query_dict(
            "SELECT indexname AS name, indexdef AS definition FROM pg_indexes"
            " WHERE tablename = 'invitation' AND indexdef NOT LIKE 'CREATE UNIQUE%'"
        )
        triggers = await client.execute_query_dict(
            "SELECT tgname AS name, pg_get_triggerdef(oid) AS definition FROM pg_trigger"
            " WHERE tgrelid = 'invitation'::regclass AND tgname LIKE 'invitation_count_%'"
        )
        drops = [f'DROP INDEX "{row["name"]}"' for row in indexes]
        drops += [f'DROP TRIGGER "{row["name"]}" ON invitation' for row in triggers]
        definitions = [row["definition"] for row in [*indexes, *triggers]]
    else:
        rows = await client.execute_query_dict(
            "SELECT type, name, sql AS definition FROM sqlite_master"
            " WHERE tbl_name = 'invitation' AND sql IS NOT NULL"
            " AND ((type = 'index' AND sql NOT LIKE 'CREATE UNIQUE%')"
            " OR (type = 'trigger' AND name LIKE 'invitation_count_%'))"
        )
        drops = [f'DROP {row["type"].upper()} "{row["name"]}"' for row in rows]
        definitions = [row["definition"] for row in rows]
    for statement in drops:
        await client.execute_script(statement)
    return definitions


async def restore_invitation(client: BaseDBAsyncClient, definitions: list[str]) -> None:
    """Create again what `strip_invitation` dropped (its indexes rebuilt from the table)."""
    for statement in definitions:
        await client.execute_script(statement)


@dataclass(frozen=True, slots=True)
class Round:
    """One timed run: e-mails per second, and this process's CPU milliseconds per e-mail."""

    rate: float
    cpu_ms: float
    # Meanwhile, the sink's and (on PostgreSQL, when its data directory is known) the database
    # server's CPU milliseconds per e-mail.
    others_cpu_ms: float = 0.0


async def whole_path(settings: Settings, port: int, others: Callable[[], float]) -> Round:
    await queue(EMAILS, "whole")
    transport = SmtpTransport(SmtpConfig(HOST, port), connections=CONNECTIONS)
    mailer = Mailer(settings, transport)
    started, cpu, others_cpu = time.perf_counter(), time.process_time(), others()
    while (await mailer.run_once()).claimed:
        pass
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    others_cpu = others() - others_cpu
    await transport.close()
    delivered = await Invitation.filter(delivery_state="DELIVERED").count()
    assert delivered == EMAILS, delivered
    return Round(EMAILS / elapsed, cpu * 1000 / EMAILS, others_cpu * 1000 / EMAILS)


async def raw_baseline(settings: Settings, port: int, others: Callable[[], float]) -> Round:
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
    started, cpu, others_cpu = time.perf_counter(), time.process_time(), others()

    async def lane(client: aiosmtplib.SMTP, share: list[tuple[str, bytes]]) -> None:
        for recipient, data in share:
            await client.sendmail(sender, [recipient], data)

    await asyncio.gather(*(lane(c, messages[i::CONNECTIONS]) for i, c in enumerate(clients)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    others_cpu = others() - others_cpu
    for client in clients:
        await client.quit()
    count = len(messages)
    return Round(count / elapsed, cpu * 1000 / count, others_cpu * 1000 / count)


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
    """A webhook receiver answering 200 to everything, in a process of its own."""
    process = subprocess.Popen([sys.executable, "-c", RECEIVER, HOST, str(port)])
    try:
        wait_for_port(port)
        yield
    finally:
        process.terminate()
        process.wait()


async def with_webhooks(settings: Settings, port: int) -> Round:
    """The whole path while every first delivery's invitation.sent webhook is posted beside it,
    by a WebhookSender in the same process (as `invitations worker` runs them)."""
    await queue(EMAILS, "hooked")
    transport = SmtpTransport(SmtpConfig(HOST, port), connections=CONNECTIONS)
    mailer = Mailer(settings, transport)
    sender = WebhookSender(settings, batch_size=200)
    mailing = True

    async def webhooks_flow() -> None:
        while await sender.run_once() or mailing:
            await asyncio.sleep(0)

    started, cpu = time.perf_counter(), time.process_time()
    flowing = asyncio.ensure_future(webhooks_flow())
    while (await mailer.run_once()).claimed:
        pass
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    mailing = False
    await flowing
    await sender.close()
    await transport.close()
    posted = await WebhookDelivery.filter(state="DELIVERED").count()
    assert posted == EMAILS, posted
    await WebhookDelivery.all().delete()
    return Round(EMAILS / elapsed, cpu * 1000 / EMAILS)


async def main(strip: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(database_url(tmp))
        config = settings.tortoise_config()
        await migrate(config)
        await Tortoise.init(config=config)
        await Invitation.all().delete()
        await seed_demo()
        client = Tortoise.get_connection("default")
        stripped = await strip_invitation(client) if strip else []
        port = free_port()
        mailer_rounds: list[Round] = []
        raw_rounds: list[Round] = []
        hooked_rounds: list[Round] = []
        receiver = free_port()
        postmaster: int | None = None
        try:
            with sink_process(port) as sink, receiver_process(receiver):
                postmaster = known_postmaster() if not settings.is_sqlite else None

                def others() -> float:
                    server = server_cpu_seconds(postmaster) if postmaster else 0.0
                    return process_cpu_seconds(sink) + server

                # Alternate the three and compare medians: a shared machine is noisy.
                for _ in range(ROUNDS):
                    mailer_rounds.append(await whole_path(settings, port, others))
                    await Invitation.all().delete()
                    raw_rounds.append(await raw_baseline(settings, port, others))
                    await Invitation.all().delete()
                    endpoint = await webhooks.create(
                        url=f"http://{HOST}:{receiver}/hook",
                        events=[WebhookEventType.INVITATION_SENT],
                        description=None,
                        keys=webhooks.Keys(secret_key=SECRET, allow_private=True),
                    )
                    hooked_rounds.append(await with_webhooks(settings, port))
                    await webhooks_endpoint_delete(endpoint.endpoint.id)
                    await Invitation.all().delete()
        finally:
            await restore_invitation(client, stripped)
            await Tortoise.close_connections()
    dialect = "sqlite" if settings.is_sqlite else "postgres"
    print(f"{EMAILS} e-mails x {ROUNDS} rounds, {CONNECTIONS} SMTP connections, {dialect}")
    print_stripped(stripped)
    print(
        f"{'path (e-mails/s per round)':<40}{'median':>8}  {'CPU ms/e-mail':>13}"
        f"  {'sink+DB CPU ms':>14}  {'CPU ceiling':>11}  rounds"
    )
    cores = os.cpu_count() or 1

    def ceiling_of(rounds: list[Round]) -> float:
        """The most e-mails/s the cores could send at these rounds' CPU per e-mail."""
        return cores * 1000 / statistics.median(r.cpu_ms + r.others_cpu_ms for r in rounds)

    for name, rounds in (
        ("mailer (claim, render, send, record)", mailer_rounds),
        ("raw aiosmtplib, pre-built messages", raw_rounds),
        ("mailer, an invitation.sent webhook each", hooked_rounds),
    ):
        rate = statistics.median(r.rate for r in rounds)
        cpu_ms = statistics.median(r.cpu_ms for r in rounds)
        others_ms = statistics.median(r.others_cpu_ms for r in rounds)
        rates = " ".join(f"{r.rate:.0f}" for r in rounds)
        # (the webhook row's receiver is not counted: no ceiling for it)
        shown = (
            f"{others_ms:>14.3f}  {ceiling_of(rounds):>11.0f}"
            if rounds is not hooked_rounds
            else f"{'':>14}  {'':>11}"
        )
        print(f"{name:<40}{rate:>8.0f}  {cpu_ms:>13.3f}  {shown}  {rates}")
    mailer_rate = statistics.median(r.rate for r in mailer_rounds)
    raw_rate = statistics.median(r.rate for r in raw_rounds)
    hooked_rate = statistics.median(r.rate for r in hooked_rounds)
    print(f"mailer/raw ratio: {mailer_rate / raw_rate:.2f}")
    print(f"mailer while webhooks flow/raw ratio: {hooked_rate / raw_rate:.2f}")
    mailer_ceiling = ceiling_of(mailer_rounds)
    print(
        f"mailer's CPU ceiling/raw: {mailer_ceiling / raw_rate:.2f} (on {cores} cores, at the "
        "CPU per e-mail of this process, the sink"
        + (" and the database" if postmaster else "")
        + f"; the mailer reached {mailer_rate / mailer_ceiling:.0%} of it)"
    )


async def webhooks_endpoint_delete(endpoint_id: int) -> None:
    await WebhookDelivery.all().delete()
    await WebhookEndpoint.filter(id=endpoint_id).delete()


# ---------------------------------------------------------------- scale-out

COUNTING_SINK = """
import asyncio, json, signal, sys
from collections import Counter
from aiosmtpd.controller import Controller
counts = Counter()
class Counting:
    async def handle_DATA(self, server, session, envelope):
        for recipient in envelope.rcpt_tos:
            counts[recipient] += 1
        return "250 OK"
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
controller = Controller(Counting(), hostname=sys.argv[1], port=int(sys.argv[2]))
controller.start()
signal.sigwait([signal.SIGTERM])
controller.stop()
with open(sys.argv[3], "w") as out:
    json.dump({"received": sum(counts.values()), "distinct": len(counts)}, out)
"""


@contextlib.contextmanager
def counting_sink(port: int, report: Path) -> Iterator[int]:
    """A sink that counts what it received per recipient, written to `report` on exit; yields
    its process id."""
    process = subprocess.Popen([sys.executable, "-c", COUNTING_SINK, HOST, str(port), str(report)])
    try:
        wait_for_port(port)
        yield process.pid
    finally:
        process.terminate()
        process.wait()


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def server_cpu_seconds(postmaster: int) -> float:
    """CPU time of the PostgreSQL server: the postmaster, its live children, and its reaped ones."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, ppid = int(entry), int(fields[1])
        if pid == postmaster:
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        elif ppid == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU time of one live process, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def known_postmaster() -> int | None:
    """The PostgreSQL server's postmaster when its data directory is known (on this machine)."""
    data = os.environ.get("INVITATIONS_TEST_PG_DATA") or os.environ.get("BENCH_PG_DATA")
    return int(Path(data, "postmaster.pid").read_text().split()[0]) if data else None


def postmaster_pid() -> int:
    postmaster = known_postmaster()
    if postmaster is None:
        raise SystemExit(
            "the PostgreSQL server's CPU is read from /proc: run this under .ci/with-postgres "
            "(or set BENCH_PG_DATA to the cluster's data directory)"
        )
    return postmaster


async def worker_process(url: str, port: int) -> None:
    """One scale-out worker: wait for the start line, drain the outbox, print the CPU seconds
    it spent from the start line on (`cpu <seconds>`) and exit."""
    await Tortoise.init(config=bench_settings(url).tortoise_config())
    transport = SmtpTransport(SmtpConfig(HOST, port), connections=CONNECTIONS)
    mailer = Mailer(bench_settings(url), transport)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    cpu = time.process_time()
    while (await mailer.run_once()).claimed:
        pass
    print(f"cpu {time.process_time() - cpu}", flush=True)
    await transport.close()
    await Tortoise.close_connections()


def worker_cpu_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line.startswith("cpu "), line
    return line


@dataclass(frozen=True, slots=True)
class ScaleRound:
    workers: int
    rate: float
    server_cpu_ms: float
    workers_cpu_ms: float
    # The workers' CPU before the start (imports, connecting), left out of workers_cpu_ms.
    startup_cpu_s: float
    sink_cpu_ms: float
    lock_waiters: float
    hot_share: float
    duplicates: int


async def table_updates() -> tuple[int, int]:
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'invitation'"
    )
    return int(rows[0]["n_tup_upd"]), int(rows[0]["n_tup_hot_upd"])


async def lock_waiters() -> int:
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    )
    return int(rows[0]["n"])


async def scale_round(url: str, workers: int, postmaster: int, tmp: str) -> ScaleRound:
    await Invitation.all().delete()
    await queue(SCALE_EMAILS, f"w{workers}-")
    await Tortoise.get_connection("default").execute_script("ANALYZE invitation")
    port = free_port()
    report = Path(tmp, f"sink-{workers}.json")
    script = str(Path(__file__).resolve())
    with counting_sink(port, report) as sink:
        processes = [
            subprocess.Popen(
                [sys.executable, script, "--worker-process", url, str(port)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(workers)
        ]
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        await asyncio.sleep(0.5)  # let the pools settle before the clock starts
        await asyncio.sleep(0)
        updates_before = await table_updates()
        cpu_before = server_cpu_seconds(postmaster)
        sink_before = process_cpu_seconds(sink)
        started = time.perf_counter()
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        samples: list[int] = []
        usage = 0.0
        running = list(processes)
        while running:
            samples.append(await lock_waiters())
            await asyncio.sleep(0.05)
            for process in list(running):
                pid, _, rusage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    usage += rusage.ru_utime + rusage.ru_stime
                    process.returncode = 0
                    running.remove(process)
        elapsed = time.perf_counter() - started
        cpu = server_cpu_seconds(postmaster) - cpu_before
        sink_cpu = process_cpu_seconds(sink) - sink_before
        # From the start line on, as each worker measured it: a worker's imports and start-up
        # (1.5-3 s of CPU) would otherwise count as mail work, once per worker.
        working = sum(float(worker_cpu_line(process).split()[1]) for process in processes)
        updates, hot = (a - b for a, b in zip(await table_updates(), updates_before, strict=True))
    received = json.loads(report.read_text())
    delivered = await Invitation.filter(delivery_state="DELIVERED").count()
    assert delivered == SCALE_EMAILS, delivered
    assert received["distinct"] == SCALE_EMAILS, received
    return ScaleRound(
        workers=workers,
        rate=SCALE_EMAILS / elapsed,
        server_cpu_ms=cpu * 1000 / SCALE_EMAILS,
        workers_cpu_ms=working * 1000 / SCALE_EMAILS,
        startup_cpu_s=(usage - working) / workers,
        sink_cpu_ms=sink_cpu * 1000 / SCALE_EMAILS,
        lock_waiters=statistics.mean(samples) if samples else 0.0,
        hot_share=hot / updates if updates else 0.0,
        duplicates=received["received"] - received["distinct"],
    )


def print_stripped(stripped: list[str]) -> None:
    if stripped:
        print(
            f"invitation stripped: {len(stripped)} indexes and count triggers dropped for the"
            " run (created again at its end)"
        )


async def scale_out(worker_counts: list[int], strip: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url(tmp)
        settings = bench_settings(url)
        if settings.is_sqlite:
            raise SystemExit("--workers measures PostgreSQL: run it under .ci/with-postgres")
        postmaster = postmaster_pid()
        await migrate(settings.tortoise_config())
        await Tortoise.init(config=settings.tortoise_config())
        await Invitation.all().delete()
        await seed_demo()
        client = Tortoise.get_connection("default")
        stripped = await strip_invitation(client) if strip else []
        results: list[list[ScaleRound]] = [[] for _ in worker_counts]
        try:
            for _ in range(ROUNDS):
                for i, workers in enumerate(worker_counts):
                    results[i].append(await scale_round(url, workers, postmaster, tmp))
        finally:
            await Invitation.all().delete()
            await restore_invitation(client, stripped)
            await Tortoise.close_connections()
    print(
        f"{SCALE_EMAILS} e-mails x {ROUNDS} rounds, worker processes of {CONNECTIONS} SMTP "
        "connections each, postgres"
    )
    print_stripped(stripped)
    print(
        f"{'workers':>7}  {'e-mails/s':>9}  {'DB CPU ms/e-mail':>16}  {'workers CPU ms':>14}"
        f"  {'sink CPU ms':>11}  {'start-up CPU s':>14}  {'lock waiters':>12}  {'HOT updates':>11}"
        f"  {'duplicates':>10}  {'CPU ceiling':>11}  rounds (e-mails/s)"
    )
    cores = os.cpu_count() or 1
    one = None
    for rounds in results:
        rate = statistics.median(r.rate for r in rounds)
        one = one or rate
        # What the machine's cores could send if the database, the workers and the sink used
        # nothing but them at the CPU per e-mail measured: the bound of any run on this machine.
        cpu_ms = statistics.median(
            r.server_cpu_ms + r.workers_cpu_ms + r.sink_cpu_ms for r in rounds
        )
        ceiling = cores * 1000 / cpu_ms
        print(
            f"{rounds[0].workers:>7}  {rate:>9.0f}"
            f"  {statistics.median(r.server_cpu_ms for r in rounds):>16.2f}"
            f"  {statistics.median(r.workers_cpu_ms for r in rounds):>14.2f}"
            f"  {statistics.median(r.sink_cpu_ms for r in rounds):>11.2f}"
            f"  {statistics.median(r.startup_cpu_s for r in rounds):>14.2f}"
            f"  {statistics.median(r.lock_waiters for r in rounds):>12.2f}"
            f"  {statistics.median(r.hot_share for r in rounds):>10.0%}"
            f"  {sum(r.duplicates for r in rounds):>10}"
            f"  {ceiling:>11.0f}"
            f"  {' '.join(f'{r.rate:.0f}' for r in rounds)}   ({rate / one:.2f}x one,"
            f" {rate / ceiling:.0%} of the ceiling)"
        )
    print(
        f"CPU ceiling: {cores} cores / (DB + workers + sink CPU per e-mail), the most e-mails/s "
        "this machine could send at those costs"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", help="scale-out: worker processes")
    parser.add_argument(
        "--worker-process", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--strip-invitation",
        action="store_true",
        help="drop invitation's non-unique indexes and count triggers first (a bound)",
    )
    arguments = parser.parse_args()
    # The loop the product runs the mailer on (`invitations serve` and `worker`); both sides of
    # the comparison share it.
    if arguments.worker_process:
        run_with_uvloop(
            worker_process(arguments.worker_process[0], int(arguments.worker_process[1]))
        )
    elif arguments.workers:
        run_with_uvloop(scale_out(arguments.workers, arguments.strip_invitation))
    else:
        run_with_uvloop(main(arguments.strip_invitation))
