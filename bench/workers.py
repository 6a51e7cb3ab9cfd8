"""`invitations serve --workers 1` against `--workers 2` under wrk (not a test: figures only).

    .ci/with-postgres .venv/bin/python bench/workers.py [--rounds 3] [--seconds 5] [--workers 2]

PostgreSQL only (more than one worker is refused on SQLite): INVITATIONS_BENCH_PG_URL or
INVITATIONS_TEST_DATABASE_URL names the server; a throwaway database is created beside it and
dropped at the end. One seeded database (bench/graphql.py's seed), both servers started at once
and driven alternately with wrk at 32 connections: `myInvitations(first: 20)` as a customer and
the admin grid's first page of 50. Each figure is the median of the rounds; CPU is that of the
server's processes (the supervisor and its workers) per request.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/graphql.py would shadow the graphql package for everything imported after it.
sys.path[0] = str(ROOT)

from bench.graphql import (
    CASES,
    Figures,
    Server,
    find_wrk,
    free_port,
    load,
    median,
    postgres_database,
    seed_in_child,
    server_env,
    wait_ready,
)

CONNECTIONS = 32


class Served(Server):
    """A `serve` whose CPU time counts its worker processes too."""

    def cpu_seconds(self) -> float:
        total = 0.0
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for process in (pid, *map(int, children)):
            stat = Path(f"/proc/{process}/stat").read_text().rpartition(")")[2].split()
            total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="the second server's processes")
    args = parser.parse_args()
    pg_url = os.environ.get("INVITATIONS_BENCH_PG_URL") or os.environ.get(
        "INVITATIONS_TEST_DATABASE_URL"
    )
    if not (pg_url and pg_url.startswith("postgres")):
        raise SystemExit("bench/workers.py needs PostgreSQL: run it under .ci/with-postgres")
    wrk = find_wrk()
    invitations = shutil.which("invitations", path=str(Path(sys.executable).parent))
    if invitations is None:
        raise SystemExit("run with the project's virtualenv (make install): no `invitations`")
    print(f"machine: {os.cpu_count()} cores, load before {os.getloadavg()[0]:.1f}", flush=True)
    cases = [c for c in CASES if not c.writes]
    counts = (1, args.workers)
    with postgres_database(pg_url) as url, tempfile.TemporaryDirectory() as tmp:
        tokens = seed_in_child(url)
        servers: list[Served] = []
        try:
            for workers in counts:
                port = free_port()
                process = subprocess.Popen(
                    [invitations, "serve", "--workers", str(workers)],
                    env=server_env(url, port),
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                servers.append(Served(f"workers={workers}", port, process))
            for server in servers:
                wait_ready(server)
            runs: dict[tuple[str, str], list[Figures]] = {}
            run_id = uuid.uuid4().hex[:8]
            for n in range(args.rounds + 1):  # round 0 warms up (and makes every worker start)
                order = servers if n % 2 == 0 else servers[::-1]
                for case in cases:
                    body = Path(tmp) / f"{case.name}.json"
                    body.write_text(json.dumps(case.graphql_body))
                    for server in order:
                        figures = load(
                            wrk,
                            server,
                            "/graphql",
                            body,
                            tokens[case.token],
                            f"{run_id}{n}{server.name}",
                            CONNECTIONS,
                            args.seconds if n else 2,
                        )
                        if n:
                            runs.setdefault((case.name, server.name), []).append(figures)
                if n:
                    print(f"round {n} of {args.rounds} done", flush=True)
        finally:
            for server in servers:
                server.process.send_signal(signal.SIGTERM)
            for server in servers:
                server.process.wait(timeout=60)
    print(f"\nPostgreSQL, {CONNECTIONS} connections, median of {args.rounds} × {args.seconds} s")
    head = f"{'case':<16}{'workers':>8}{'req/s':>8}{'p50/p99 ms':>16}{'CPU ms/req':>12}"
    print(head)
    print("-" * len(head))
    for case in cases:
        for server in servers:
            f = median(runs[case.name, server.name])
            latency = f"{f.p50_ms:.1f} / {f.p99_ms:.1f}"
            print(
                f"{case.name:<16}{server.name.split('=')[1]:>8}{f.rps:>8.0f}{latency:>16}"
                f"{f.cpu_ms:>12.2f}"
            )
    one, many = (median(runs["myInvitations", s.name]).rps for s in servers)
    print(f"\nmyInvitations@32: --workers {args.workers} / --workers 1 = {many / one:.2f}")


if __name__ == "__main__":
    main()
