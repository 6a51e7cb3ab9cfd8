"""A mailer process that kills itself with SIGKILL at one crash point (run by test_processes).

Usage: python -m tests.mailer.crash_worker {after_claim|after_sending|after_250|after_recording}
with the INVITATIONS_* environment of the test database and SMTP server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from cli.database import database
from config import Settings
from mailer import outbox
from mailer.service import smtp_transport
from mailer.worker import Mailer


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_after(function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = await function(*args, **kwargs)
        _die()
        return result

    return wrapper


def _kill_around_record(*, deliveries: bool, before: bool) -> Callable[..., Awaitable[Any]]:
    """The mailer's record writes, dying before or after one with a start or a delivery."""
    record = outbox.record

    async def wrapper(records: list[outbox.Record]) -> Any:
        hit = any(r.is_start != deliveries for r in records)
        if hit and before:
            _die()
        result = await record(records)
        if hit:
            _die()
        return result

    return wrapper


def _crash_at(point: str) -> None:
    if point == "after_claim":
        outbox.claim = _kill_after(outbox.claim)  # type: ignore[method-assign]
        return
    outbox.record = {  # type: ignore[method-assign]
        "after_sending": _kill_around_record(deliveries=False, before=False),
        # The server answered 250; the process dies before writing that down.
        "after_250": _kill_around_record(deliveries=True, before=True),
        "after_recording": _kill_around_record(deliveries=True, before=False),
    }[point]


async def main(point: str) -> None:
    _crash_at(point)
    settings = Settings()
    async with database(settings.tortoise_config()), smtp_transport(settings) as transport:
        # One lane: one message in flight, so a crash point catches exactly that message.
        await Mailer(settings, transport, lanes=1).run_once()
    sys.exit("the crash point was never reached")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
