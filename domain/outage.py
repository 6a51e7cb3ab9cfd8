"""Database outages as one process sees them: which errors mean "unreachable", and a record of
the outage under way that logs its start and its end once each.

The API answers 503 while it lasts (api.outage); the mailer stops claiming and waits for the
database (mailer.worker). Both learn of an outage from the error of an ordinary query, and of its
end from a probe (`SELECT 1`) a few times a second, so they resume well within a second.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from collections.abc import Callable

import asyncpg
from tortoise import connections
from tortoise.exceptions import DBConnectionError

PROBE_INTERVAL_SECONDS = 0.2
PROBE_TIMEOUT_SECONDS = 1.0

# asyncpg's errors that say the server is gone, shutting down or not up yet (SQLSTATE classes 08
# and 57P0x), and the client-side ones raised on a connection it closed meanwhile.
_UNAVAILABLE = (
    ConnectionError,  # refused, reset, aborted
    TimeoutError,
    socket.gaierror,  # the host name does not resolve
    DBConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ConnectionDoesNotExistError,
)


_NETWORK_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}


def _network_down(error: BaseException) -> bool:
    """An OSError of the network; not one of files (a missing time zone is IsADirectoryError)."""
    if type(error) is not OSError:
        return False
    # asyncio's connect to a name with several addresses: "Multiple exceptions: ..."
    return error.errno in _NETWORK_ERRNOS or str(error).startswith("Multiple exceptions")


def is_database_unavailable(error: BaseException) -> bool:
    """Whether `error`, or one it was raised from, says the database cannot be reached."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, _UNAVAILABLE) or _network_down(current):
            return True
        # ("another operation is in progress" is an InterfaceError too, and a bug)
        if isinstance(current, asyncpg.InterfaceError) and "closed" in str(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


async def database_answers(timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """One probe: whether the database answers `SELECT 1` within `timeout` seconds."""
    try:
        await asyncio.wait_for(connections.get("default").execute_query("SELECT 1"), timeout)
    except Exception:  # whatever the reason, it does not answer yet
        return False
    return True


class Outage:
    """The outage under way, if any, of one process's database: started and ended once each.

    `what` names, in the two log lines, what the process does meanwhile ("answering 503"); a
    process that `refuses` requests meanwhile counts them, and says how many in the second.
    """

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        refuses: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._what = what
        self._refuses = refuses
        self._clock = clock
        self._started: float | None = None
        self.refused = 0

    @property
    def down(self) -> bool:
        return self._started is not None

    def begin(self, error: BaseException) -> bool:
        """Note that the database failed with `error`; whether this starts the outage."""
        if self._started is not None:
            return False
        self._started = self._clock()
        self.refused = 0
        reason = str(error) or type(error).__name__
        self._logger.warning("database unreachable (%s): %s until it answers", reason, self._what)
        return True

    def refuse(self) -> None:
        """Count one request refused because of the outage."""
        self.refused += 1

    def end(self) -> None:
        if self._started is None:
            return
        seconds = self._clock() - self._started
        self._started = None
        if self._refuses:
            self._logger.warning(
                "database back after %.1f s; %d requests refused meanwhile", seconds, self.refused
            )
        else:
            self._logger.warning("database back after %.1f s", seconds)

    async def wait_for_database(self, interval: float = PROBE_INTERVAL_SECONDS) -> None:
        """Probe until the database answers, then end the outage."""
        while not await database_answers():  # noqa: ASYNC110 (polling another process)
            await asyncio.sleep(interval)
        self.end()


class _QuietPoolFloor(logging.Filter):
    """asyncpg's pool logs a traceback each time it fails to reopen its idle connections (1 s,
    2 s, 4 s ... apart) while the server is down; the outage's own two lines say it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to restore the pool connection floor")


def quiet_pool_reconnects() -> None:
    pool_logger = logging.getLogger("asyncpg.pool")
    if not any(isinstance(f, _QuietPoolFloor) for f in pool_logger.filters):
        pool_logger.addFilter(_QuietPoolFloor())
