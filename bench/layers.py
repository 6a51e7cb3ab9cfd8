"""Where a read's CPU goes, layer by layer, in one process (not a test: figures only).

    .venv/bin/python bench/layers.py [--rounds 12] [--requests 200]
    .ci/with-postgres .venv/bin/python bench/layers.py      # PostgreSQL instead of SQLite

bench/graphql.py says how far the service is from the hand-written endpoint; this script says
where the difference is spent. It seeds a database as bench/graphql.py does, opens the service
and the endpoint in this process (no network, no uvicorn: their cost is the same for both), tunes
the garbage collector as `serve` does, and times each layer of `myInvitations(first: 20)` and of
the admin grid's page of 50 with its relations, from the inside out:

- **domain**: the domain calls the endpoint makes (the page, and the grid's relations).
- **endpoint**: the hand-written endpoint, through its ASGI app.
- **graphql-core**: graphql-core's `execute` of the parsed document with the project's
  execution context (schema/execution.py) and a context built once: the resolvers, the
  connection's objects and the completion, without Strawberry's operation machinery.
- **Strawberry**: `Schema.execute` of the query text: the document cache and, for a known
  document, schema/operation.py's short way (INVITATIONS_SHORT_OPERATIONS=false: Strawberry's
  extension runner instead).
- **view**: the GraphQL view as an ASGI app: the context (token, store view), the body, the
  response.
- **service**: the whole app, middleware included.

Each figure is the median over `--rounds` rounds (the layers alternate within a round, so that
drift in the machine evens out) of the process's CPU per request over `--requests` requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # as bench/graphql.py: this folder would shadow the graphql package

from bench.graphql import CASES, Case, postgres_database, seed_in_child, server_env

Layer = Callable[[], Awaitable[object]]


def scope_of(path: str, body: bytes, token: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }


async def call_asgi(app: Any, path: str, body: bytes, token: str) -> bytes:
    """One request through an ASGI app; its body (a status other than 200 stops the script)."""
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:  # the app waits for a disconnect that never comes
            await asyncio.Event().wait()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    status: list[int] = []
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        else:
            chunks.append(message.get("body", b""))

    await app(scope_of(path, body, token), receive, send)
    if status != [200]:
        raise SystemExit(f"{path} answered {status}: {b''.join(chunks)[:300]!r}")
    return b"".join(chunks)


async def layers_of(case: Case, app: Any, endpoint: Any, token: str) -> dict[str, Layer]:
    import graphql
    from starlette.requests import Request
    from starlette.responses import Response

    from domain import grid, invitations
    from domain.clock import utcnow
    from schema.execution import ExecutionContext

    route = next(r for r in app.routes if getattr(r, "path", "") == "/graphql")
    view = route.app.app.app  # TracedRequests(OutageGuard(view))
    body = json.dumps(case.graphql_body).encode()
    raw_body = json.dumps(case.raw_body).encode()
    context = await view.get_context(Request(scope_of("/graphql", body, token)), Response())
    query = str(case.graphql_body["query"])
    document = graphql.parse(query)
    schema = view.schema

    async def domain() -> object:
        if case.name == "myInvitations":
            return await invitations.sent_by(
                inviter=context.principal.customer, first=20, after=None, statuses=None
            )
        page = await grid.grid_page(
            where=grid.GridFilter(),
            sort=grid.SortField.ID,
            reverse=True,
            first=50,
            after=None,
            now=utcnow(),
        )
        return await grid.page_relations(page.rows, set(grid.Relation))

    async def graphql_core() -> object:
        context.loaders = type(context.loaders)()  # a request's loaders start empty
        result = await graphql.execute(  # type: ignore[misc]
            schema._schema, document, context_value=context, executor_class=ExecutionContext
        )
        if result.errors:
            raise SystemExit(f"graphql-core: {result.errors}")
        return result

    async def strawberry() -> object:
        context.loaders = type(context.loaders)()
        result = await schema.execute(query, context_value=context)
        if result.errors:
            raise SystemExit(f"Strawberry: {result.errors}")
        return result

    layers: dict[str, Layer] = {
        "domain": domain,
        "endpoint": lambda: call_asgi(endpoint, case.raw_path, raw_body, token),
        "graphql-core": graphql_core,
        "Strawberry": strawberry,
        "view": lambda: call_asgi(view, "/graphql", body, token),
        "service": lambda: call_asgi(app, "/graphql", body, token),
    }
    if await layers["service"]() != await layers["endpoint"]():
        raise SystemExit(f"{case.name}: the service and the endpoint answer differently")
    return layers


async def measure(layers: dict[str, Layer], rounds: int, requests: int) -> dict[str, float]:
    for layer in layers.values():  # warm up: caches, statement caches, the document cache
        for _ in range(100):
            await layer()
    runs: dict[str, list[float]] = {name: [] for name in layers}
    order = list(layers.items())
    for n in range(rounds):
        for name, layer in order if n % 2 == 0 else order[::-1]:
            began = time.process_time()
            for _ in range(requests):
                await layer()
            runs[name].append((time.process_time() - began) * 1000 / requests)
    return {name: statistics.median(values) for name, values in runs.items()}


async def bench(url: str, tokens: dict[str, str], rounds: int, requests: int) -> None:
    from app import create_app
    from bench.baseline.raw_app import create_raw_app
    from cli.process import tune_garbage_collector
    from config import Settings

    app = create_app(Settings())
    endpoint = create_raw_app(Settings())
    async with app.router.lifespan_context(app), endpoint.router.lifespan_context(endpoint):
        tune_garbage_collector()  # as `serve` does once started
        for case in CASES:
            if case.writes:
                continue
            layers = await layers_of(case, app, endpoint, tokens[case.token])
            figures = await measure(layers, rounds, requests)
            print_layers(case.name, figures)


def print_layers(name: str, figures: dict[str, float]) -> None:
    print(f"\n{name}: CPU ms per request, median (in this process; no network)")
    print(f"{'layer':<14}{'ms':>8}{'adds':>8}")
    print("-" * 30)
    previous = None
    for layer in ("domain", "graphql-core", "Strawberry", "view", "service"):
        adds = "" if previous is None else f"{figures[layer] - figures[previous]:+.3f}"
        print(f"{layer:<14}{figures[layer]:>8.3f}{adds:>8}")
        previous = layer
    endpoint = figures["endpoint"]
    print(f"{'endpoint':<14}{endpoint:>8.3f}{endpoint - figures['domain']:>+8.3f}")
    print(f"{name}: endpoint/service CPU {endpoint / figures['service']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    server = os.environ.get("INVITATIONS_BENCH_PG_URL") or os.environ.get(
        "INVITATIONS_TEST_DATABASE_URL"
    )
    with tempfile.TemporaryDirectory() as tmp:
        if server:
            with postgres_database(server) as url:
                run(url, args.rounds, args.requests)
        else:
            run(f"sqlite://{tmp}/layers-{uuid.uuid4().hex[:8]}.sqlite3", args.rounds, args.requests)


def run(url: str, rounds: int, requests: int) -> None:
    tokens = seed_in_child(url)
    os.environ.update(server_env(url, 8000))  # the port is never opened
    print(f"database: {url.split(':', 1)[0]}; {rounds} rounds of {requests} requests per layer")
    import uvloop

    uvloop.run(bench(url, tokens, rounds, requests))


if __name__ == "__main__":
    main()
