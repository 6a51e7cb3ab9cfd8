"""The `invitations` command line."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from cli.config import app as config_app
from cli.persisted_queries import app as persisted_queries_app
from cli.process import (
    configure_logging,
    run_with_uvloop,
    server_config,
    settings_or_exit,
    tracing_or_exit,
    tune_garbage_collector,
    with_database,
)
from domain.errors import DomainError
from models.accounts import AdminUser, Permission

if TYPE_CHECKING:
    pass

app = typer.Typer(help="Invitations: a headless GraphQL backend for private-sales invitations.")
app.add_typer(config_app, name="config")
app.add_typer(persisted_queries_app, name="persisted-queries")

T = TypeVar("T")

DEMO_ADMIN = "admin"
DEMO_ADMIN_PASSWORD_FILE = Path("var/demo-admin-password")


@app.command()
def serve(
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes serving the one port (PostgreSQL only above 1); default "
            "INVITATIONS_WORKERS, else one per core in production and 1 in development.",
        ),
    ] = None,
) -> None:
    """Serve the API (and the mailer, unless INVITATIONS_MAILER_IN_PROCESS=false)."""
    import uvicorn

    from app import create_app
    from cli import serve as serving

    settings = settings_or_exit()
    configure_logging(settings)
    tracing_or_exit()
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    processes = settings.serve_processes
    if processes > 1 and settings.is_sqlite:
        typer.echo(f"Configuration error: {serving.SQLITE_REFUSAL}", err=True)
        raise typer.Exit(2)
    across = f" ({processes} processes)" if processes > 1 else ""
    typer.echo(f"GraphQL API on http://{settings.host}:{settings.port}/graphql{across}")
    if not settings.is_production:
        typer.echo(
            f"GraphiQL:       http://{settings.host}:{settings.port}/graphql (open in a browser)"
        )
    # (Without INVITATIONS_SMTP_URL, the mailer says once where the mail goes.)
    if processes > 1:
        serving.run_processes(settings, processes)
        return
    uvicorn.Server(
        server_config(settings, create_app(settings, started=tune_garbage_collector))
    ).run()


@app.command()
def worker() -> None:
    """Run the mailer, the bulk worker and the webhook sender alone until SIGTERM or Ctrl-C (the
    message, the bulk chunk and the webhook POSTs under way are finished first)."""
    from cli.database import database
    from domain import tracing
    from mailer.bulk_worker import BulkWorker
    from mailer.service import smtp_transport
    from mailer.webhooks import WebhookSender
    from mailer.worker import Mailer

    settings = settings_or_exit()
    configure_logging(settings)
    tracing_or_exit()

    async def run() -> None:
        async with AsyncExitStack() as stack:
            stack.enter_context(tracing.traced(os.environ))  # docs/operations.md, "Traces"
            await stack.enter_async_context(database(settings.tortoise_config()))
            transport = await stack.enter_async_context(smtp_transport(settings))
            mailer = Mailer(settings, transport)
            bulk_worker = BulkWorker(
                poll_seconds=settings.mailer_poll_seconds, pause_ratio=settings.bulk_pause_ratio
            )
            webhook_sender = WebhookSender(settings)
            loop = asyncio.get_running_loop()

            def stop() -> None:
                mailer.stop()
                bulk_worker.stop()
                webhook_sender.stop()

            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop)
            # Said once the handlers are in place: from here on SIGTERM is a clean stop.
            typer.echo("Mailer running; SIGTERM or Ctrl-C stops it after the message under way.")
            await asyncio.gather(mailer.run(), bulk_worker.run(), webhook_sender.run())

    run_with_uvloop(run())


@app.command()
def migrate() -> None:
    """Apply the committed database migrations."""
    from cli.database import migrate as apply

    asyncio.run(apply(settings_or_exit().tortoise_config()))
    typer.echo("Migrations applied.")


@app.command("seed-demo")
def seed_demo() -> None:
    """Create the demo store and its admin user (idempotent); print the admin's credentials."""
    from cli.database import database
    from cli.demo import create_admin, seed_demo

    settings = settings_or_exit()

    async def run() -> str:
        async with database(settings.tortoise_config()):
            await seed_demo()
            password = _demo_admin_password()
            if not await AdminUser.filter(username=DEMO_ADMIN).exists():
                await create_admin(
                    username=DEMO_ADMIN,
                    password=password,
                    permissions=list(Permission),
                    password_profile=settings.password_hash_profile,
                )
            return password

    password = asyncio.run(run())
    typer.echo(
        "Demo store ready (cli/demo_store.toml): website 'base', store views default, sv, zh."
    )
    typer.echo(f"Demo admin: username '{DEMO_ADMIN}', password '{password}'")


def _demo_admin_password() -> str:
    """A random password made on the first seed and kept beside the database."""
    if DEMO_ADMIN_PASSWORD_FILE.exists():
        return DEMO_ADMIN_PASSWORD_FILE.read_text().strip()
    password = f"Demo-{secrets.token_urlsafe(12)}"
    DEMO_ADMIN_PASSWORD_FILE.parent.mkdir(parents=True, exist_ok=True)
    DEMO_ADMIN_PASSWORD_FILE.touch(mode=0o600)
    DEMO_ADMIN_PASSWORD_FILE.write_text(password + "\n")
    return password


@app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option(help="Login name of the admin user.")],
    password: Annotated[str, typer.Option(help="At least 8 characters from three classes.")],
    permission: Annotated[
        list[Permission] | None,
        typer.Option(help="Repeat for several; without it, all permissions."),
    ] = None,
) -> None:
    """Create an admin user (or reset an existing one's password and permissions)."""
    from cli import demo
    from cli.database import database

    settings = settings_or_exit()

    async def run() -> AdminUser:
        async with database(settings.tortoise_config()):
            return await demo.create_admin(
                username=username,
                password=password,
                permissions=permission or list(Permission),
                password_profile=settings.password_hash_profile,
            )

    try:
        admin = asyncio.run(run())
    except DomainError as error:
        typer.echo(f"Refused: {error.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Admin '{admin.username}' with permissions: {', '.join(admin.permissions)}")


api_key_app = typer.Typer(help="Service API keys for back-office scripts (`inv_sk_…`).")
app.add_typer(api_key_app, name="api-key")


@api_key_app.command("create")
def api_key_create(
    name: Annotated[str, typer.Option(help="What the key is for; history reads service:<name>.")],
    permission: Annotated[
        list[Permission] | None,
        typer.Option(help="Repeat for several; without it, all permissions."),
    ] = None,
) -> None:
    """Print a new key, once: it is stored hashed and cannot be shown again."""
    from domain import service_keys

    try:
        key = with_database(service_keys.create(name, permission or list(Permission)))
    except DomainError as error:
        typer.echo(f"Refused: {error.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(key)


@api_key_app.command("list")
def api_key_list() -> None:
    """Names, permissions, creation and last use of every key (never the key)."""
    from domain import service_keys

    for info in with_database(service_keys.listing()):
        used = info.last_used_at.isoformat(timespec="seconds") if info.last_used_at else "never"
        state = f"revoked {info.revoked_at:%Y-%m-%dT%H:%M:%S}" if info.revoked_at else "active"
        typer.echo(
            f"{info.name}\t{','.join(info.permissions) or '-'}\t"
            f"created {info.created_at:%Y-%m-%dT%H:%M:%S}\tlast used {used}\t{state}"
        )


@api_key_app.command("revoke")
def api_key_revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """End a key at once, on every replica."""
    from domain import service_keys

    if not with_database(service_keys.revoke(name)):
        typer.echo(f"No active key named {name!r}.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Revoked {name!r}.")


@app.command("pause-sending")
def pause_sending() -> None:
    """Stop all invitation e-mail now, in every mailer process on this database."""
    _set_sending_paused(True)
    typer.echo("Sending paused: invitations stay queued until `invitations resume-sending`.")


@app.command("resume-sending")
def resume_sending() -> None:
    """Let the mailers send again."""
    _set_sending_paused(False)
    typer.echo("Sending resumed.")


def _set_sending_paused(paused: bool) -> None:
    from cli.database import database
    from domain import sending_switch

    settings = settings_or_exit()

    async def run() -> None:
        async with database(settings.tortoise_config()):
            await sending_switch.set_paused(paused)

    asyncio.run(run())


@app.command("export-schema")
def export_schema() -> None:
    """Print the GraphQL schema (SDL)."""
    from api.schema import build_schema

    sys.stdout.write(build_schema(settings_or_exit()).as_str() + "\n")


if __name__ == "__main__":
    app()
