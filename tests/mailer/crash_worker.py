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

from config import Settings
from mailer import outbox
from mailer.service import smtp_transport
from mailer.worker import Mailer
from models.database import database


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_after(function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = await function(*args, **kwargs)
        _die()
        return result

    return wrapper


def _kill_before(function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        _die()
        return await function(*args, **kwargs)

    return wrapper


CRASH_POINTS = {
    "after_claim": ("claim", _kill_after),
    "after_sending": ("start_sending", _kill_after),
    # The server answered 250; the process dies before writing that down.
    "after_250": ("delivered", _kill_before),
    "after_recording": ("delivered", _kill_after),
}


async def main(point: str) -> None:
    name, wrap = CRASH_POINTS[point]
    setattr(outbox, name, wrap(getattr(outbox, name)))
    settings = Settings()
    async with database(settings.tortoise_config()), smtp_transport(settings) as transport:
        # One lane: one message in flight, so a crash point catches exactly that message.
        await Mailer(settings, transport, lanes=1).run_once()
    sys.exit("the crash point was never reached")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
