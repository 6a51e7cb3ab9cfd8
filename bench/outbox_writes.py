"""The database's share of the mailer: its writes alone (claim, SENDING, DELIVERED), no SMTP.

    .ci/with-postgres .venv/bin/python bench/outbox_writes.py [--groups 1 3 10] [--rounds 3]
        [--strip-invitation]

Drains BENCH_EMAILS (default 3000) queued invitations through mailer.outbox as the mailer's
lanes write them: claims of 100 rows, then one `outbox.record` per group of G rows, holding the
group's starts (SENDING) and the previous group's deliveries, as mailer.recorder groups them when
G lanes write at once. For each G (alternated, `--rounds` rounds each) it prints the database's
CPU milliseconds per e-mail, then splits them by least squares into a cost per statement and a
cost per e-mail (an e-mail's two writes go into 1/G statements).

On PostgreSQL the figure is the server's CPU, read from /proc (run it under `.ci/with-postgres`,
which names the data directory); on SQLite it is this process's CPU (the engine runs in it),
taken with `INVITATIONS_DATABASE_URL` unset: a temporary file.

`--strip-invitation` drops, for the run, the non-unique indexes of `invitation` (the grid's, the
queue's, the trigram index) and its count triggers, and creates them again at its end: a bound on
what a narrow outbox row of its own could save, which would take two of an e-mail's three
invitation writes off them but keep the third (bench/mailer.py takes the same flag for the whole
path).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# The root in place of bench/ (a script's own folder): bench/graphql.py would shadow graphql.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tortoise import Tortoise

from bench.mailer import (
    bench_settings,
    database_url,
    postmaster_pid,
    print_stripped,
    queue,
    restore_invitation,
    server_cpu_seconds,
    strip_invitation,
)
from cli.database import migrate
from cli.demo import seed_demo
from mailer import outbox
from mailer.outbox import Claimed, Record
from models.invitation import Invitation

EMAILS = int(os.environ.get("BENCH_EMAILS", "3000"))
CLAIM = 100
LEASE_SECONDS = 300.0


async def drain(group: int) -> None:
    """Every due row through the mailer's writes, `group` starts (and the group before's
    deliveries) per statement."""
    while rows := await outbox.claim(CLAIM, LEASE_SECONDS):
        previous: list[Claimed] = []
        for start in range(0, len(rows), group):
            starting = rows[start : start + group]
            records = [Record(row) for row in previous]
            records += [
                Record(row, f"<bench-{row.id}@example.com>", LEASE_SECONDS) for row in starting
            ]
            await outbox.record(records)
            previous = starting
        await outbox.record([Record(row) for row in previous])


async def one_round(group: int, name: str, cpu: Callable[[], float]) -> float:
    await queue(EMAILS, name)
    before = cpu()
    await drain(group)
    spent = cpu() - before
    delivered = await Invitation.filter(delivery_state="DELIVERED").count()
    assert delivered == EMAILS, delivered
    await Invitation.all().delete()
    return spent * 1000 / EMAILS


def split(costs: dict[int, float]) -> tuple[float, float]:
    """(ms per statement, ms per e-mail) fitted to cost(G) = per_email + per_statement / G."""
    xs = [1 / group for group in costs]
    ys = list(costs.values())
    slope, intercept = statistics.linear_regression(xs, ys)
    return slope, intercept


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--strip-invitation", action="store_true")
    args = parser.parse_args()
    if any(group < 1 for group in args.groups):
        parser.error("each group size must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        config = bench_settings(database_url(tmp)).tortoise_config()
        await migrate(config)
        await Tortoise.init(config=config)
        client = Tortoise.get_connection("default")
        stripped: list[str] = []
        try:
            await Invitation.all().delete()
            await seed_demo()
            postgres = client.capabilities.dialect == "postgres"
            cpu: Callable[[], float] = time.process_time
            if postgres:
                server = postmaster_pid()

                def cpu() -> float:
                    return server_cpu_seconds(server)

            stripped = await strip_invitation(client) if args.strip_invitation else []
            costs: dict[int, list[float]] = {group: [] for group in args.groups}
            for number in range(args.rounds):
                for group in args.groups:
                    costs[group].append(await one_round(group, f"r{number}g{group}-", cpu))
        finally:
            await restore_invitation(client, stripped)
            await Tortoise.close_connections()
    whose = "the PostgreSQL server's" if postgres else "this process's (SQLite)"
    print(f"{EMAILS} e-mails x {args.rounds} rounds, claims of {CLAIM}; {whose} CPU")
    print_stripped(stripped)
    print(f"{'e-mails per statement':<22}{'median ms/e-mail':>17}  rounds")
    for group, values in costs.items():
        rounds = " ".join(f"{value:.3f}" for value in values)
        print(f"{group:<22}{statistics.median(values):>17.3f}  {rounds}")
    if len(costs) >= 2:
        per_statement, per_email = split({g: statistics.median(v) for g, v in costs.items()})
        print(f"per statement: {per_statement:.3f} ms; per e-mail: {per_email:.3f} ms")


if __name__ == "__main__":
    asyncio.run(main())
