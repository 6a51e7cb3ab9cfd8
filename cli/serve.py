"""`invitations serve` on several processes: uvicorn's supervisor, one port, metrics summed.

uvicorn binds the port once and hands the socket to N spawned worker processes, each of which
builds the app with `served_app` (uvicorn imports it by name: a factory reading the settings from
the environment, as the parent did). The parent only supervises: it restarts a worker that dies
and, on SIGTERM or Ctrl-C, stops every worker the way one `serve` stops (requests and the mail
under way are finished first).

What each worker runs, and why that is right with N of them (docs/operations.md):
- its own mailer, bulk worker and webhook sender: they claim rows under a lease with a fencing
  token, as any number of `invitations worker` processes do, so nothing is sent twice;
- its own PostgreSQL LISTEN connection: each worker's subscribers hear every change, whichever
  worker (or other process) made it. That is also why SQLite is refused above one process: there,
  events stay in the process that made them, and a subscriber would miss what the others do;
- its metrics in prometheus-client's multiprocess mode: one file per worker in a private
  directory (PROMETHEUS_MULTIPROC_DIR, made here and removed at exit), so `/metrics` on any
  worker shows the totals of all of them (api/health.py).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.multiprocess import mark_process_dead
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from app import create_app
from cli.process import configure_logging, server_config, tune_garbage_collector
from config import Settings, read_settings

FACTORY = "cli.serve:served_app"
METRICS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own variable
SQLITE_REFUSAL = (
    "INVITATIONS_WORKERS (or --workers) above 1 needs PostgreSQL: on SQLite, live updates "
    "cannot cross processes. Serve with one process, or use PostgreSQL."
)


def run_processes(settings: Settings, processes: int) -> None:
    """Serve on `processes` workers sharing one listening socket, until SIGTERM or Ctrl-C."""
    with metrics_directory():
        config = server_config(settings, FACTORY, workers=processes)
        Multiprocess(config, sockets=[config.bind_socket()]).run()


@contextmanager
def metrics_directory() -> Iterator[Path]:
    """A fresh, private PROMETHEUS_MULTIPROC_DIR for the workers, removed when the block ends.

    Set before any worker starts: prometheus-client picks its mode when it is first imported.
    Fresh each time, so no counts of an earlier run are added to this one's.
    """
    with tempfile.TemporaryDirectory(prefix="invitations-metrics-") as directory:
        previous = os.environ.get(METRICS_DIRECTORY)
        os.environ[METRICS_DIRECTORY] = directory
        try:
            yield Path(directory)
        finally:
            if previous is None:
                del os.environ[METRICS_DIRECTORY]
            else:
                os.environ[METRICS_DIRECTORY] = previous


def served_app() -> Starlette:
    """The app of one worker process (uvicorn calls it there)."""
    directory = os.environ[METRICS_DIRECTORY]
    forget_dead_processes(Path(directory))
    settings = read_settings()
    configure_logging(settings)  # a spawned process: nothing of the parent's set-up carries over
    return create_app(
        settings,
        started=tune_garbage_collector,
        stopped=lambda: mark_process_dead(os.getpid(), directory),
    )


def forget_dead_processes(directory: Path) -> None:
    """Drop the live gauges of workers that died without retiring them (killed, crashed).

    A worker that stops retires its own (`served_app`'s `stopped`); one that was killed cannot,
    and its open-subscription count would be added to the totals for ever. uvicorn starts a
    replacement for it, whose start-up calls this. Counters and histograms stay: their totals
    include what the dead worker counted.
    """
    for path in directory.glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        if not _alive(pid):
            mark_process_dead(pid, str(directory))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
