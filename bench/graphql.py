"""GraphQL against a hand-written endpoint, side by side over HTTP (not a test: figures only).

    .venv/bin/python bench/graphql.py [--rounds 3] [--seconds 5]
    .ci/with-postgres .venv/bin/python bench/graphql.py      # SQLite, then PostgreSQL too

Starts the real service (`invitations serve`: uvicorn, one worker, uvloop + httptools) and the
baseline of bench/baseline/raw_app.py (the same uvicorn settings) on one seeded database, checks
that both answer the same bytes for the reads, then drives them alternately with wrk on loopback
at 1 and 32 connections: `myInvitations(first: 20)` as a customer, the admin grid's first page of
50 with its relations, and `sendInvitations` with 5 fresh addresses per request. Each figure is
the median of the rounds. SQLite always (a temporary file); PostgreSQL too when
INVITATIONS_BENCH_PG_URL or INVITATIONS_TEST_DATABASE_URL names a server (a throwaway database
is created beside it and dropped at the end). Needs wrk: installed with apt-get when missing and
run as root, otherwise the script says so and stops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This file would shadow the graphql package for everything imported after it: run from the root.
sys.path[0] = str(ROOT)

LUA = ROOT / "bench" / "baseline" / "post.lua"
from bench.baseline.seed import INVITATIONS

CONNECTIONS = (1, 32)

MY_INVITATIONS = """query MyInvitations {
  myInvitations(first: 20) {
    edges { cursor node { id email status message createdAt sentAt acceptedAt expiresAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""
GRID = """query Grid {
  invitations(first: 50) {
    edges {
      cursor
      node {
        id email status createdAt sentAt acceptedAt
        storeView { code name }
        website { code name }
        inviteeGroup { code }
        inviter { email firstname lastname }
        invitee { email }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""
SEND = """mutation Send($input: SendInvitationsInput!) {
  sendInvitations(input: $input) {
    invitations { id email status createdAt }
    userErrors { code field message }
  }
}"""
FRESH_EMAILS = [f"@N@-{i}@fresh.example" for i in range(5)]


@dataclass(frozen=True)
class Case:
    name: str
    graphql_body: dict[str, object]
    raw_path: str
    raw_body: dict[str, object]
    token: str  # which token of the seed: "customer", "admin" or "sender"
    writes: bool = False


CASES = (
    Case("myInvitations", {"query": MY_INVITATIONS}, "/my-invitations", {"first": 20}, "customer"),
    Case("grid", {"query": GRID}, "/grid", {"first": 50}, "admin"),
    Case(
        "sendInvitations",
        {"query": SEND, "variables": {"input": {"emails": FRESH_EMAILS}}},
        "/send-invitations",
        {"emails": FRESH_EMAILS},
        "sender",
        writes=True,
    ),
)


def seed_in_child(url: str) -> dict[str, str]:
    # Tortoise keeps per-dialect state for the process: each database is seeded by a new one.
    done = subprocess.run(
        [sys.executable, ROOT / "bench" / "baseline" / "seed.py", url],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(url: str, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        INVITATIONS_DATABASE_URL=url,
        INVITATIONS_PORT=str(port),
        INVITATIONS_MAILER_IN_PROCESS="false",
        INVITATIONS_RATE_LIMIT_SEND_INVITATIONS_PER_ADDRESS="1000000000",
        INVITATIONS_RATE_LIMIT_SEND_INVITATIONS_PER_ACCOUNT="1000000000",
    )
    return env


def serve_raw() -> None:
    """The baseline, with `invitations serve`'s uvicorn settings (cli.py)."""
    import uvicorn

    from bench.baseline.raw_app import create_raw_app
    from config import Settings

    settings = Settings()
    uvicorn.run(
        create_raw_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level="info",
        proxy_headers=False,
    )


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024


@contextmanager
def servers(url: str) -> Iterator[tuple[Server, Server]]:
    invitations = shutil.which("invitations", path=str(Path(sys.executable).parent))
    if invitations is None:
        raise SystemExit("run with the project's virtualenv (make install): no `invitations`")
    started: list[Server] = []
    try:
        for name, command in (
            ("graphql", [invitations, "serve"]),
            ("raw", [sys.executable, __file__, "--serve-raw"]),
        ):
            port = free_port()
            process = subprocess.Popen(
                command,
                env=server_env(url, port),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            started.append(Server(name, port, process))
        for server in started:
            wait_ready(server)
        yield started[0], started[1]
    finally:
        for server in started:
            server.process.send_signal(signal.SIGINT)
        for server in started:
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()


def wait_ready(server: Server) -> None:
    # Generous: on a shared machine a cold start of the service has taken over 30 s.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"the {server.name} server exited with {server.process.returncode}")
        try:
            with urllib.request.urlopen(server.url("/healthz"), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the {server.name} server did not start")


def post(url: str, body: dict[str, object], token: str) -> bytes:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def concrete(body: dict[str, object], prefix: str) -> dict[str, object]:
    return json.loads(json.dumps(body).replace("@N@", prefix))


def require(condition: bool, failure: str) -> None:
    # Not `assert`: the check must also hold under python -O.
    if not condition:
        raise SystemExit(failure)


def check_same_answers(graphql: Server, raw: Server, tokens: dict[str, str]) -> None:
    """Reads: the same bytes. Sending: both create 5 invitations, the same apart from ids."""
    for case in CASES:
        token = tokens[case.token]
        if not case.writes:
            ours = post(graphql.url("/graphql"), case.graphql_body, token)
            theirs = post(raw.url(case.raw_path), case.raw_body, token)
            require(b'"errors"' not in ours, f"{case.name}: {ours[:500]!r}")
            require(
                ours == theirs, f"{case.name}: the answers differ\n{ours[:300]!r}\n{theirs[:300]!r}"
            )
            continue
        answers = []
        for server, path, body in (
            (graphql, "/graphql", case.graphql_body),
            (raw, case.raw_path, case.raw_body),
        ):
            prefix = f"check-{server.name}"
            data = json.loads(post(server.url(path), concrete(body, prefix), token))
            sent = data["data"]["sendInvitations"]
            require(len(sent["invitations"]) == 5, f"{case.name}: {sent}")
            require(not sent["userErrors"], f"{case.name}: {sent}")
            for row in sent["invitations"]:
                row["id"] = row["createdAt"] = None
                row["email"] = row["email"].replace(prefix, "")
            answers.append(sent)
        require(answers[0] == answers[1], f"{case.name}: the answers differ: {answers}")


# ------------------------------------------------------------------ load


def find_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing Debian's wrk...", flush=True)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, env=env, **quiet)
        wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit(
            "bench/graphql.py needs wrk (Debian: apt-get install wrk); no figures without it."
        )
    return wrk


@dataclass(frozen=True)
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    # CPU time of the server process (all its threads) per request: steadier than req/s on a
    # shared machine.
    cpu_ms: float


def load(
    wrk: str,
    server: Server,
    path: str,
    body_file: Path,
    token: str,
    prefix: str,
    conns: int,
    secs: int,
) -> Figures:
    # One wrk thread: it keeps 32 connections busy and leaves the second core to the server.
    url = server.url(path)
    command = [wrk, "-t1", f"-c{conns}", f"-d{secs}s", "--timeout", "10s", "-s", str(LUA), url]
    cpu_before = server.cpu_seconds()
    done = subprocess.run(
        [*command, "--", str(body_file), token, prefix],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK "))
    figures = json.loads(line.removeprefix("WRK "))
    if figures["socket_errors"] or figures["status_errors"]:
        raise SystemExit(f"errors under load at {url}: {figures}")
    return Figures(
        rps=figures["requests"] / (figures["duration_us"] / 1e6),
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        cpu_ms=(server.cpu_seconds() - cpu_before) * 1000 / max(figures["requests"], 1),
    )


def median(runs: list[Figures]) -> Figures:
    return Figures(
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        cpu_ms=statistics.median(r.cpu_ms for r in runs),
    )


def bench_database(
    label: str, url: str, wrk: str, cases: tuple[Case, ...], rounds: int, seconds: int
) -> dict[tuple[str, int], tuple[Figures, Figures]]:
    began = time.perf_counter()
    tokens = seed_in_child(url)
    print(f"{label}: seeded {INVITATIONS:,} invitations in {time.perf_counter() - began:.1f} s")
    run_id = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp, servers(url) as (graphql, raw):
        check_same_answers(graphql, raw, tokens)
        print(f"{label}: both servers answer the same bytes for the reads", flush=True)
        bodies: dict[tuple[str, str], Path] = {}
        for case in cases:
            for server, body in ((graphql, case.graphql_body), (raw, case.raw_body)):
                bodies[case.name, server.name] = Path(tmp) / f"{case.name}-{server.name}.json"
                bodies[case.name, server.name].write_text(json.dumps(body))

        def drive(case: Case, server: Server, conns: int, secs: int, tag: str) -> Figures:
            return load(
                wrk,
                server,
                "/graphql" if server is graphql else case.raw_path,
                bodies[case.name, server.name],
                tokens[case.token],
                f"{run_id}{tag}{server.name}{conns}",
                conns,
                secs,
            )

        for case in cases:  # warm up: imports, caches, the statement caches of the pool
            for server in (graphql, raw):
                drive(case, server, 32, 1, "w")
        runs: dict[tuple[str, int, str], list[Figures]] = {}
        for n in range(rounds):
            # Alternate which server goes first, so that drift in the machine evens out.
            pair = (graphql, raw) if n % 2 == 0 else (raw, graphql)
            for case in cases:
                for conns in CONNECTIONS:
                    for server in pair:
                        run = drive(case, server, conns, seconds, f"r{n}")
                        runs.setdefault((case.name, conns, server.name), []).append(run)
            print(f"{label}: round {n + 1} of {rounds} done", flush=True)
        rss = {server.name: server.peak_rss_mib() for server in (graphql, raw)}
    results = {
        (case.name, conns): (
            median(runs[case.name, conns, "graphql"]),
            median(runs[case.name, conns, "raw"]),
        )
        for case in cases
        for conns in CONNECTIONS
    }
    print_table(label, results, rounds, seconds)
    print(f"{label}: peak RSS graphql {rss['graphql']:.0f} MiB, raw {rss['raw']:.0f} MiB")
    return results


def print_table(
    label: str, results: dict[tuple[str, int], tuple[Figures, Figures]], rounds: int, secs: int
) -> None:
    print(f"\n{label}: median of {rounds} rounds of {secs:g} s per figure (wrk, loopback)")
    head = (
        f"{'case':<16}{'conns':>6}{'graphql req/s':>15}{'raw req/s':>11}{'ratio':>7}"
        f"{'graphql p50/p99 ms':>21}{'raw p50/p99 ms':>17}{'p99 ×':>7}"
        f"{'CPU ms/req g/raw':>18}"
    )
    print(head)
    print("-" * len(head))
    for (name, conns), (ours, theirs) in results.items():
        print(
            f"{name:<16}{conns:>6}{ours.rps:>15.0f}{theirs.rps:>11.0f}"
            # (a server that completed nothing in a round on an overloaded machine: no ratio)
            f"{ours.rps / theirs.rps if theirs.rps else float('nan'):>7.2f}"
            f"{f'{ours.p50_ms:.1f} / {ours.p99_ms:.1f}':>21}"
            f"{f'{theirs.p50_ms:.1f} / {theirs.p99_ms:.1f}':>17}"
            f"{ours.p99_ms / theirs.p99_ms:>7.2f}"
            f"{f'{ours.cpu_ms:.2f} / {theirs.cpu_ms:.2f}':>18}"
        )
    print()


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    import asyncpg

    name = f"invitations_bench_{uuid.uuid4().hex[:12]}"

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument(
        "--cases",
        default=",".join(c.name for c in CASES),
        help="which of " + ", ".join(c.name for c in CASES) + " (myInvitations is always run)",
    )
    parser.add_argument("--serve-raw", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_raw:
        serve_raw()
        return
    wanted = {"myInvitations", *args.cases.split(",")}
    cases = tuple(c for c in CASES if c.name in wanted)
    wrk = find_wrk()
    cpu = next(
        (
            x.split(":", 1)[1].strip()
            for x in Path("/proc/cpuinfo").read_text().splitlines()
            if x.startswith("model name")
        ),
        "unknown CPU",
    )
    print(f"machine: {os.cpu_count()} cores ({cpu}), Python {sys.version.split()[0]}", flush=True)
    pg_url = os.environ.get("INVITATIONS_BENCH_PG_URL") or os.environ.get(
        "INVITATIONS_TEST_DATABASE_URL"
    )
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = bench_database(
            "SQLite", f"sqlite://{tmp}/bench.sqlite3", wrk, cases, args.rounds, args.seconds
        )
        results["SQLite"] = sqlite
    if pg_url:
        with postgres_database(pg_url) as url:
            results["PostgreSQL"] = bench_database(
                "PostgreSQL", url, wrk, cases, args.rounds, args.seconds
            )
    for label, by_case in results.items():
        ours, theirs = by_case["myInvitations", 32]
        print(
            f"{label}: myInvitations@32 graphql/raw {ours.rps / theirs.rps:.2f}, "
            f"p99 {ours.p99_ms / theirs.p99_ms:.2f}× the raw endpoint's"
        )
    ours, theirs = sqlite["myInvitations", 32]
    print(f"graphql/raw myInvitations@32 ratio: {ours.rps / theirs.rps:.2f}")


if __name__ == "__main__":
    main()
