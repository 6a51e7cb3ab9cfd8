"""A wake-up call from the code that queues mail to an in-process mailer.

Queuing code calls `mail_queued()` after its transaction commits; the mailer waits on
`wait_for_mail(timeout)` between polls, so a new invitation goes out at once instead of at the next
poll. Workers in other processes still find it by polling.
"""

from __future__ import annotations

import asyncio
import contextlib

_queued = asyncio.Event()


def mail_queued() -> None:
    _queued.set()


async def wait_for_mail(timeout: float) -> None:
    """Return when mail was queued since the last call, or after `timeout` seconds."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_queued.wait(), timeout)
    _queued.clear()
