"""`invitations serve --workers N`: real processes under uvicorn's supervisor, real HTTP.

One `serve --workers 2` (PostgreSQL) is started for the module and shared by its tests, since a
start costs seconds; the last test stops it with SIGTERM. Which worker answers a connection is
read from the kernel (/proc: the process holding the server's end of the socket), so the service
exposes nothing for the tests.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import mark_process_dead
from prometheus_client.values import MultiProcessValue

from cli.serve import SQLITE_REFUSAL, forget_dead_processes
from config import Settings, available_cores
from mailer.sink import HOST, free_port
from models.invitation import DeliveryState, Invitation
from tests.helpers import TEST_SECRET, customer_token, make_customer
from tests.live import LiveClient, live_client
from tests.mailer.conftest import SmtpServer, eventually, make_invitations, start_server

ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRES = os.environ.get("INVITATIONS_TEST_DATABASE_URL", "").startswith("postgres")
on_postgres = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="more than one worker needs PostgreSQL (SQLite is refused: see the refusal test)",
)

MINE = "subscription { myInvitationUpdates { email status } }"
SEND = """
mutation Send($emails: [String!]!) {
  sendInvitations(input: {emails: $emails}) { userErrors { code } }
}
"""


def test_the_default_is_one_process_per_core_in_production_and_one_in_development() -> None:
    postgres = "postgres://app@db/invitations"
    production = {"env": "production", "secret_key": "s" * 32, "smtp_url": "smtp://mail:25"}

    assert Settings(database_url=postgres).serve_processes == 1
    assert Settings(database_url=postgres, **production).serve_processes == available_cores()
    # On SQLite more than one is refused, so its production default stays one.
    assert Settings(database_url="sqlite://x.sqlite3", **production).serve_processes == 1
    assert Settings(database_url=postgres, workers=3).serve_processes == 3


def test_more_than_one_worker_on_sqlite_is_refused(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "INVITATIONS_DATABASE_URL": f"sqlite://{tmp_path}/db.sqlite3",
        "INVITATIONS_WORKERS": "4",
    }
    for args, variables in ((["--workers", "2"], os.environ), ([], env)):
        done = subprocess.run(
            [sys.executable, "-m", "cli", "serve", *args],
            cwd=ROOT,
            env={**variables, "INVITATIONS_DATABASE_URL": env["INVITATIONS_DATABASE_URL"]},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done
        assert done.stderr.strip() == f"Configuration error: {SQLITE_REFUSAL}"


def test_a_killed_workers_live_gauges_are_forgotten_and_a_running_ones_kept(
    tmp_path: Path,
) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    for pid in (dead.pid, os.getpid()):
        value = MultiProcessValue(lambda pid=pid: pid)  # type: ignore[misc]
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
        try:
            value("gauge", "g", "g", (), (), "help", "livesum").set(1)
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]

    forget_dead_processes(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == [f"gauge_livesum_{os.getpid()}.db"]
    mark_process_dead(os.getpid(), str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def _owner(server_port: int, client_port: int, candidates: list[int]) -> int:
    """The process holding the server's end of the loopback connection from `client_port`."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, remote, *_, socket_inode = line.split()[1:10]
        if int(local.split(":")[1], 16) == server_port and (
            int(remote.split(":")[1], 16) == client_port
        ):
            inode = socket_inode
    assert inode is not None, "no such connection"
    for pid in candidates:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except FileNotFoundError:
                continue
    raise AssertionError(f"no worker holds socket {inode}")


@dataclass
class Served:
    """The running `serve --workers 2`, its SMTP server, and one open client per worker."""

    process: subprocess.Popen[bytes]
    port: int
    smtp: SmtpServer
    log: Path
    workers: list[int] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    async def http_to(self, stack: AsyncExitStack, worker: int) -> httpx.AsyncClient:
        """A client whose one keep-alive connection is served by `worker`."""
        for _ in range(200):
            client = await stack.enter_async_context(
                httpx.AsyncClient(base_url=self.base, limits=httpx.Limits(max_connections=1))
            )
            response = await client.get("/healthz")
            client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
            if _owner(self.port, client_port, self.workers) == worker:
                return client
        raise AssertionError(f"worker {worker} took no connection")

    async def ws_to(self, stack: AsyncExitStack, worker: int, token: str) -> LiveClient:
        """A WebSocket (signed in with `token`) served by `worker`."""
        for _ in range(200):
            inner = AsyncExitStack()
            client = await inner.enter_async_context(
                live_client(f"ws://{HOST}:{self.port}/graphql", token=token)
            )
            if _owner(self.port, client.ws.local_address[1], self.workers) == worker:
                stack.push_async_callback(inner.aclose)
                return client
            await inner.aclose()
        raise AssertionError(f"worker {worker} took no WebSocket")


@pytest.fixture(scope="module")
def served(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    smtp = SmtpServer()
    controller = start_server(smtp, free_port())
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {
        **os.environ,
        "INVITATIONS_DATABASE_URL": settings.database_url,
        "INVITATIONS_SECRET_KEY": TEST_SECRET,
        "INVITATIONS_PASSWORD_HASH_PROFILE": "cheapest",
        "INVITATIONS_PORT": str(port),
        "INVITATIONS_SMTP_URL": f"smtp://{HOST}:{smtp.port}",
        "INVITATIONS_MAILER_POLL_SECONDS": "0.1",
        # Small batches, so that both workers' mailers claim.
        "INVITATIONS_MAILER_BATCH_SIZE": "2",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    served = Served(process, port, smtp, log)
    try:
        served.workers = _wait_for_two_workers(served)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        controller.stop()


def _wait_for_two_workers(served: Served) -> list[int]:
    """The two workers' pids, once each has answered a request of its own."""
    deadline = time.monotonic() + 120  # a busy machine starts Python slowly
    answered: set[int] = set()
    while len(answered) < 2:
        assert served.process.poll() is None, served.log.read_text()
        assert time.monotonic() < deadline, f"answered by {answered}: {served.log.read_text()}"
        try:
            with httpx.Client(base_url=served.base) as client:
                response = client.get("/healthz")
                client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
                candidates = served.children()
                answered.add(_owner(served.port, client_port, candidates))
        except httpx.TransportError:
            time.sleep(0.1)
    return sorted(answered)


@on_postgres
def test_two_worker_processes_answer_on_one_port(served: Served) -> None:
    assert len(set(served.workers)) == 2
    assert served.process.pid not in served.workers
    assert set(served.workers) <= set(served.children())


async def _subscriptions(http: httpx.AsyncClient) -> float:
    metrics = (await http.get("/metrics")).text
    line = next(x for x in metrics.splitlines() if x.startswith("invitations_live_subscriptions "))
    return float(line.split()[1])


async def _sent_total(http: httpx.AsyncClient) -> float:
    metrics = (await http.get("/metrics")).text
    line = next(x for x in metrics.splitlines() if x.startswith("invitations_mail_sent_total "))
    return float(line.split()[1])


@on_postgres
async def test_a_subscriber_of_one_worker_hears_a_change_made_through_the_other(
    served: Served,
) -> None:
    one, other = served.workers
    token = await customer_token(await make_customer("alice@example.com"))
    async with AsyncExitStack() as stack:
        subscriber = await served.ws_to(stack, one, token)
        await subscriber.subscribe(MINE, wait=False)
        through_other = await served.http_to(stack, other)
        through_one = await served.http_to(stack, one)

        async def both_see_one_subscription() -> bool:
            return (await _subscriptions(through_one), await _subscriptions(through_other)) == (
                1,
                1,
            )

        # Either worker's /metrics counts the subscription the first one holds.
        await eventually(both_see_one_subscription, timeout=10)

        response = await through_other.post(
            "/graphql",
            json={"query": SEND, "variables": {"emails": ["guest@example.com"]}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.json()["data"]["sendInvitations"]["userErrors"] == [], response.text

        updates = [await subscriber.next_invitation("myInvitationUpdates") for _ in range(2)]
        assert updates == [
            {"email": "guest@example.com", "status": "NOT_SENT"},
            {"email": "guest@example.com", "status": "SENT"},  # by one of the mailers
        ]


@on_postgres
async def test_the_workers_mailers_send_each_invitation_once_and_metrics_add_up(
    served: Served,
) -> None:
    async with AsyncExitStack() as stack:
        clients = [await served.http_to(stack, worker) for worker in served.workers]
        before = await _sent_total(clients[0])
        served.smtp.received.clear()
        invitations = await make_invitations(20)
        ids = [i.id for i in invitations]

        async def all_delivered() -> bool:
            delivered = Invitation.filter(id__in=ids, delivery_state=DeliveryState.DELIVERED)
            return await delivered.count() == len(ids)

        await eventually(all_delivered, timeout=30)
        await asyncio.sleep(0.5)  # time for a duplicate, were there one

        per_invitation = Counter(m["X-Invitation-Id"] for m in served.smtp.messages())
        assert per_invitation == Counter({str(i): 1 for i in ids})
        assert [await _sent_total(c) - before for c in clients] == [20, 20]
        assert await Invitation.filter(id__in=ids, attempts=1).count() == 20


@on_postgres
def test_sigterm_stops_every_worker_cleanly(served: Served) -> None:
    workers = served.children()
    metrics_dirs = {
        entry.split("=", 1)[1]
        for pid in served.workers
        for entry in Path(f"/proc/{pid}/environ").read_text().split("\0")
        if entry.startswith("PROMETHEUS_MULTIPROC_DIR=")
    }

    served.process.send_signal(signal.SIGTERM)

    assert served.process.wait(timeout=60) == 0
    assert [pid for pid in served.workers if Path(f"/proc/{pid}").exists()] == []
    # The rest (multiprocessing's resource tracker) ends once it sees its parent gone.
    deadline = time.monotonic() + 10
    while [pid for pid in workers if Path(f"/proc/{pid}").exists()]:
        assert time.monotonic() < deadline, "a child outlived serve"
        time.sleep(0.05)
    log = served.log.read_text()
    assert log.count("Application shutdown complete.") == 2, log
    assert "Traceback" not in log, log
    assert len(metrics_dirs) == 1
    assert not Path(metrics_dirs.pop()).exists()
