"""The service beside the GraphQL libraries a user might pick instead (not a test: figures only).

    .venv/bin/python bench/peers.py [--rounds 3] [--seconds 5] [--connections 32]
    .ci/with-postgres .venv/bin/python bench/peers.py      # SQLite, then PostgreSQL too

Serves the same `myInvitations(first: 20)` from five servers on one seeded database: the
service (`invitations serve`), the hand-written endpoint of bench/graphql.py, and stock
Strawberry, Ariadne and Graphene 3 (bench/peer_apps/: each written the way its users write it,
with its usual caches, the same domain call and token check, and `serve`'s uvicorn settings).
Checks that all five answer the same data, then drives them in turn with wrk (the order rotates
every round, so that drift in the machine evens out), and prints the medians and the
`project/best-peer ratio`. Graphene needs graphql-core < 3.3, which the project cannot have:
it runs in its own environment, bench/peer_apps/graphene_env, synced here with uv.
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
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # as bench/graphql.py: this folder would shadow packages

from bench.graphql import (
    MY_INVITATIONS,
    Figures,
    Server,
    find_wrk,
    free_port,
    load,
    median,
    post,
    postgres_database,
    require,
    seed_in_child,
    server_env,
)

PEER_APPS = ROOT / "bench" / "peer_apps"
GRAPHENE_ENV = PEER_APPS / "graphene_env"
PROJECT = "service"
ENDPOINT = "endpoint"
PEERS = ("strawberry", "ariadne", "graphene")


def graphene_python() -> str:
    uv = shutil.which("uv", path=f"{ROOT / '.tools' / 'bin'}:{os.environ.get('PATH', '')}")
    if uv is None:
        raise SystemExit("bench/peers.py needs uv (make install puts it in .tools/bin)")
    subprocess.run(
        [uv, "sync", "--frozen", "--quiet", "--project", str(GRAPHENE_ENV)], check=True, cwd=ROOT
    )
    return str(GRAPHENE_ENV / ".venv" / "bin" / "python")


def commands() -> dict[str, list[str]]:
    invitations = shutil.which("invitations", path=str(Path(sys.executable).parent))
    if invitations is None:
        raise SystemExit("run with the project's virtualenv (make install): no `invitations`")
    return {
        PROJECT: [invitations, "serve"],
        ENDPOINT: [sys.executable, str(ROOT / "bench" / "graphql.py"), "--serve-raw"],
        "strawberry": [sys.executable, str(PEER_APPS / "strawberry_app.py")],
        "ariadne": [sys.executable, str(PEER_APPS / "ariadne_app.py")],
        "graphene": [graphene_python(), str(PEER_APPS / "graphene_app.py")],
    }


@contextmanager
def servers(url: str, programs: dict[str, list[str]]) -> Iterator[dict[str, Server]]:
    started: dict[str, Server] = {}
    try:
        for name, command in programs.items():
            port = free_port()
            process = subprocess.Popen(
                command,
                env=server_env(url, port),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            started[name] = Server(name, port, process)
        for server in started.values():
            wait_answering(server)
        yield started
    finally:
        for server in started.values():
            server.process.send_signal(signal.SIGINT)
        for server in started.values():
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()


def wait_answering(server: Server) -> None:
    """Until the server answers (the peers have no /healthz: a GraphQL request). Five servers
    start at once, so this waits longer than bench/graphql.py does."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"the {server.name} server exited with {server.process.returncode}")
        try:
            if server.name in PEERS:
                post(server.url("/graphql"), {"query": "{ __typename }"}, "none")
            else:
                with urllib.request.urlopen(server.url("/healthz"), timeout=1):
                    pass
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the {server.name} server did not start")


def path_of(server: Server) -> str:
    return "/my-invitations" if server.name == ENDPOINT else "/graphql"


def body_of(server: Server) -> dict[str, object]:
    return {"first": 20} if server.name == ENDPOINT else {"query": MY_INVITATIONS}


def check_same_data(started: dict[str, Server], token: str) -> None:
    answers = {}
    for name, server in started.items():
        answer = json.loads(post(server.url(path_of(server)), body_of(server), token))
        require("errors" not in answer, f"{name}: {answer}")
        answers[name] = answer["data"]
    edges = answers[PROJECT]["myInvitations"]["edges"]
    require(len(edges) == 20, f"the service answered {len(edges)} rows, not 20")
    for name, data in answers.items():
        require(data == answers[PROJECT], f"{name} answers other data than the service")
    # Every peer refuses a request without a customer token, as the service does.
    for name in PEERS:
        try:
            text = post(started[name].url("/graphql"), body_of(started[name]), "none")
        except urllib.error.HTTPError as refusal:
            text = refusal.read()
        refused = json.loads(text)
        require(bool(refused.get("errors")), f"{name} answered without a customer token")


def bench_database(
    label: str, url: str, wrk: str, rounds: int, seconds: int, connections: tuple[int, ...]
) -> dict[tuple[str, int], Figures]:
    tokens = seed_in_child(url)
    programs = commands()
    run_id = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp, servers(url, programs) as started:
        check_same_data(started, tokens["customer"])
        print(f"{label}: all {len(started)} servers answer the same data", flush=True)
        bodies = {}
        for name, server in started.items():
            bodies[name] = Path(tmp) / f"{name}.json"
            bodies[name].write_text(json.dumps(body_of(server)))

        def drive(server: Server, conns: int, secs: int, tag: str) -> Figures:
            return load(
                wrk,
                server,
                path_of(server),
                bodies[server.name],
                tokens["customer"],
                f"{run_id}{tag}{server.name}{conns}",
                conns,
                secs,
            )

        order = list(started.values())
        for server in order:  # warm up: imports, caches, the statement caches of the pool
            drive(server, 32, 1, "w")
        runs: dict[tuple[str, int], list[Figures]] = {}
        for n in range(rounds):
            turn = order[n % len(order) :] + order[: n % len(order)]
            for conns in connections:
                for server in turn:
                    runs.setdefault((server.name, conns), []).append(
                        drive(server, conns, seconds, f"r{n}")
                    )
            print(f"{label}: round {n + 1} of {rounds} done", flush=True)
    results = {key: median(figures) for key, figures in runs.items()}
    print_table(label, results, rounds, seconds, connections)
    return results


def ratio_of(ours: float, theirs: float) -> float:
    # NaN where a server completed nothing in a round (an overloaded machine).
    return ours / theirs if theirs else float("nan")


def print_table(
    label: str,
    results: dict[tuple[str, int], Figures],
    rounds: int,
    secs: int,
    connections: tuple[int, ...],
) -> None:
    print(f"\n{label}: myInvitations(first: 20), median of {rounds} rounds of {secs:g} s (wrk)")
    head = (
        f"{'server':<12}{'conns':>6}{'req/s':>9}{'/endpoint':>11}{'p50 / p99 ms':>18}"
        f"{'CPU ms/req':>12}"
    )
    print(head)
    print("-" * len(head))
    for conns in connections:
        endpoint = results[ENDPOINT, conns]
        for name in (PROJECT, ENDPOINT, *PEERS):
            figures = results[name, conns]
            share = ratio_of(figures.rps, endpoint.rps)
            print(
                f"{name:<12}{conns:>6}{figures.rps:>9.0f}{share:>11.2f}"
                f"{f'{figures.p50_ms:.1f} / {figures.p99_ms:.1f}':>18}{figures.cpu_ms:>12.2f}"
            )
        best = max(PEERS, key=lambda name: results[name, conns].rps)
        ratio = ratio_of(results[PROJECT, conns].rps, results[best, conns].rps)
        cpu = ratio_of(results[best, conns].cpu_ms, results[PROJECT, conns].cpu_ms)
        print(
            f"{label} @{conns}: project/best-peer ratio {ratio:.2f} (best peer: {best}); "
            f"CPU per request: the best peer's / the project's {cpu:.2f}"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", default="32", help="comma-separated, e.g. 1,32")
    args = parser.parse_args()
    connections = tuple(int(c) for c in args.connections.split(","))
    wrk = find_wrk()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        bench_database(
            "SQLite", f"sqlite://{tmp}/bench.sqlite3", wrk, args.rounds, args.seconds, connections
        )
    pg_url = os.environ.get("INVITATIONS_BENCH_PG_URL") or os.environ.get(
        "INVITATIONS_TEST_DATABASE_URL"
    )
    if pg_url:
        with postgres_database(pg_url) as url:
            bench_database("PostgreSQL", url, wrk, args.rounds, args.seconds, connections)


if __name__ == "__main__":
    main()
