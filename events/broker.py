"""The in-process broker: hands each event to every subscriber's bounded queue.

A subscriber that does not keep up is not allowed to grow memory: when its queue is full the next
event marks it `overflowed`, and its reader ends the subscription with an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

SUBSCRIPTIONS = Gauge(
    "invitations_live_subscriptions",
    "Live-update subscriptions open (in every worker of `serve --workers N`).",
    multiprocess_mode="livesum",
)
OVERFLOWS = Counter(
    "invitations_live_overflows_total", "Subscriptions ended because their queue filled up."
)


@dataclass(frozen=True, slots=True)
class Change:
    """One invitation changed: ids only, so every subscriber loads what it may see."""

    invitation_id: int
    inviter_id: int | None


class Subscriber:
    """One subscription's queue of changes, at most `capacity` long."""

    def __init__(self, capacity: int) -> None:
        self._queue: asyncio.Queue[Change] = asyncio.Queue(maxsize=capacity)
        self._overflow = asyncio.Event()

    @property
    def overflowed(self) -> bool:
        return self._overflow.is_set()

    def offer(self, change: Change) -> None:
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(change)
        except asyncio.QueueFull:
            self._overflow.set()
            OVERFLOWS.inc()

    async def next(self, timeout: float) -> Change | None:
        """The next change, or None after `timeout` seconds or once the queue overflowed."""
        if self.overflowed:
            return None
        if not self._queue.empty():
            return self._queue.get_nowait()
        getting = asyncio.ensure_future(self._queue.get())
        overflowing = asyncio.ensure_future(self._overflow.wait())
        try:
            await asyncio.wait(
                {getting, overflowing}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            overflowing.cancel()
            if not getting.done():
                getting.cancel()
        if getting.done() and not getting.cancelled():
            return getting.result()
        return None


class Broker:
    """The subscribers of one process (one event loop)."""

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @contextmanager
    def subscription(self, capacity: int) -> Iterator[Subscriber]:
        subscriber = Subscriber(capacity)
        self._subscribers.add(subscriber)
        SUBSCRIPTIONS.inc()
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)
            SUBSCRIPTIONS.dec()

    def deliver(self, changes: Iterable[Change]) -> None:
        for change in changes:
            for subscriber in tuple(self._subscribers):
                subscriber.offer(change)


BROKER = Broker()
