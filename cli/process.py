"""What the commands share as they start: the settings (or exit 2), tracing's check, the log
set-up, uvicorn's configuration for `serve`, the event loop, and a database for one piece of work.

The command modules (cli/main.py and the sub-commands beside it) import from here, never from
each other's command modules.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from config import ConfigurationError, Settings, read_settings

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp

T = TypeVar("T")

# Allocations (less deallocations) between two collections of the youngest generation; Python's
# default is 700.
GC_YOUNG_THRESHOLD = 10_000


def settings_or_exit() -> Settings:
    """The settings, read as the command starts: one line per refused one, and exit 2."""
    try:
        return read_settings()
    except ConfigurationError as error:
        for problem in error.problems:
            typer.echo(f"Configuration error: {problem}", err=True)
        raise typer.Exit(2) from None


def tracing_or_exit() -> None:
    """Refuse OTEL_* variables that ask for an exporter nothing installed provides (docs/
    operations.md, "Traces"), as a bad setting is refused."""
    from domain import tracing

    try:
        tracing.check(os.environ)
    except tracing.TracingConfigurationError as error:
        typer.echo(f"Configuration error: {error}", err=True)
        raise typer.Exit(2) from None


def configure_logging(settings: Settings) -> None:
    """This process's log lines, uvicorn's among them, in INVITATIONS_LOG_FORMAT on stderr."""
    import service_logging

    service_logging.configure(level=settings.log_level, log_format=settings.log_style)


def server_config(settings: Settings, app: ASGIApp | str, *, workers: int = 1) -> uvicorn.Config:
    """How `serve` runs `app` under uvicorn (whose loggers configure_logging has set up): an app,
    or (several `workers`) a factory's path."""
    import uvicorn

    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        workers=workers,
        # How long the supervisor waits for a worker to answer its health check before it
        # kills and replaces it. A new worker answers only once it has imported its code: 5 s
        # (uvicorn's default) killed every worker, over and over, on a busy two-core machine.
        timeout_worker_healthcheck=30,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
        # A WebSocket message is bounded as a request body is; uvicorn refuses a larger one
        # (1009) before reading it whole. The app checks it too (api.websocket).
        ws_max_size=settings.max_body_bytes,
    )


def tune_garbage_collector() -> None:
    """The collector's settings for a long-lived server process, once its start-up is done."""
    # What start-up built (the schema, the ORM's models) lives as long as the process: leave it
    # out of the collector's full passes, which otherwise stall requests.
    gc.freeze()
    # Requests in flight hold thousands of young objects (rows, their projections, the
    # response). Collecting every 700 allocations walked them over and over and moved them on
    # towards full collections: about 0.1 ms of CPU a request at 32 connections. Requests leave
    # next to no cyclic garbage, so waiting longer costs little memory.
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)


def run_with_uvloop(main: Coroutine[Any, Any, T]) -> T:
    """`main` on uvloop, the loop `serve` runs on (via uvicorn); asyncio's where it is missing."""
    try:
        import uvloop
    except ImportError:  # Windows
        return asyncio.run(main)
    return uvloop.run(main)


def with_database(work: Coroutine[Any, Any, T]) -> T:
    from cli.database import database

    async def run() -> T:
        async with database(settings_or_exit().tortoise_config()):
            return await work

    return asyncio.run(run())
