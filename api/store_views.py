"""A per-process cache of store views by code, for the Store header of every request."""

from __future__ import annotations

import time
from collections.abc import Callable

from domain import stores
from models.store import StoreView, find_store_view


class StoreViewCache:
    """Store views by code, kept for `ttl_seconds`: every request names one, and they rarely change.

    A change made elsewhere (another process, the command line) is seen within `ttl_seconds`; one
    made by this process (domain.stores) empties the cache at once.
    Only store views found are kept: an unknown code is looked up each time, so made-up codes
    cannot fill the cache. The instances are shared by requests, which only read them.
    """

    MAX_ENTRIES = 1000

    def __init__(
        self, ttl_seconds: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, StoreView]] = {}
        self._generation = stores.generation()

    async def find(self, code: str | None) -> StoreView | None:
        """As find_store_view."""
        key = code or ""
        if self._generation != stores.generation():
            self._entries.clear()
            self._generation = stores.generation()
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        store = await find_store_view(code)
        if store is None:
            self._entries.pop(key, None)
            return None
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (now + self._ttl, store)
        return store
