"""`invitations config`: a store's setup from a file, and the current setup as one."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from domain.errors import Refused

app = typer.Typer(help="A store's setup as a TOML file (docs/store-setup.md).")


@app.command("apply")
def apply_file(
    file: Annotated[
        Path, typer.Argument(help="A TOML file shaped like store-config.example.toml.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and print the changes; write nothing.")
    ] = False,
) -> None:
    """Check the whole file, print what it changes, and apply it in one transaction."""
    from cli.database import database
    from cli.process import settings_or_exit
    from domain import store_config, store_config_toml

    settings = settings_or_exit()

    async def run() -> store_config.Plan:
        config = store_config_toml.load(file)
        async with database(settings.tortoise_config()):
            if dry_run:
                return await store_config.plan(config)
            return await store_config.apply(config)

    try:
        plan = asyncio.run(run())
    except Refused as refused:
        for error in refused.errors:
            where = store_config.place(error.field or ()) or str(file)
            typer.echo(f"{where}: {error.message}", err=True)
        count = len(refused.errors)
        typer.echo(f"Nothing applied: {count} problem{'s' * (count != 1)}.", err=True)
        raise typer.Exit(1) from None
    if plan.changes_nothing:
        typer.echo(f"Nothing to change: the store already matches {file}.")
        return
    for line in plan.describe():
        typer.echo(f"  {line}")
    count = len(plan.steps)
    changes = f"{count} change{'s' * (count != 1)}"
    typer.echo(f"Dry run: {changes}, nothing written." if dry_run else f"Applied {changes}.")


@app.command("export")
def export() -> None:
    """Print the current setup in the same format (applying it changes nothing)."""
    from cli.database import database
    from cli.process import settings_or_exit
    from domain import store_config_toml

    settings = settings_or_exit()

    async def run() -> str:
        async with database(settings.tortoise_config()):
            return await store_config_toml.export()

    sys.stdout.write(asyncio.run(run()))
