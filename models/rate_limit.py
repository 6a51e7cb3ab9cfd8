"""An in-memory sliding-window rate limiter with bounded memory.

It keeps, per key (a client address), the times of its recent hits. At most `max_keys` keys are
tracked: the least recently seen one is forgotten first, so a flood of addresses costs bounded
memory (at most max_keys * limit timestamps). The limit holds per process: several replicas each
allow `limit` hits, which is enough to make guessing invitation codes (128 bits of MAC) hopeless.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """At most `limit` hits per key in any `window_seconds`."""

    def __init__(
        self,
        *,
        limit: int,
        window_seconds: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert limit >= 1, limit
        assert window_seconds > 0, window_seconds
        assert max_keys >= 1, max_keys
        self.limit = limit
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str) -> bool:
        """Record a hit for `key`; False when the key has used up its window (nothing recorded)."""
        now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while hits and hits[0] <= now - self.window_seconds:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def __len__(self) -> int:
        return len(self._hits)
