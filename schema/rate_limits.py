"""In-memory sliding-window rate limiters with bounded memory, and the service's set of them.

A limiter keeps, per key (a client address or an account), the times of its recent hits. At most
`max_keys` keys are tracked: the least recently seen one is forgotten first, so a flood of
addresses costs bounded memory (at most max_keys * limit timestamps). The limits hold per process:
several replicas each allow `limit` hits. That is enough against what they are for (guessing
invitation codes of 128 bits, spraying passwords past the account lockout, sending invitation spam
in bursts) and keeps the database out of every request; a restart forgets them.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum


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


def _digest(account: str) -> str:
    # Account names come from the request (an e-mail, a username) and may be a megabyte long:
    # a fixed-size digest keeps each key small whatever the client sends.
    return hashlib.blake2b(account.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class Action(StrEnum):
    """What a client may do only so often."""

    CUSTOMER_SIGN_IN = "customer sign-in"
    ADMIN_SIGN_IN = "admin sign-in"
    REGISTRATION = "registration"
    CODE_LOOKUP = "invitation code look-up"
    SEND_INVITATIONS = "sending invitations"


@dataclass(frozen=True, slots=True)
class Limit:
    """Hits allowed per window: per client address, and per account (None: not counted)."""

    per_address: int
    per_account: int | None = None


class RateLimits:
    """A per-address and a per-account limiter for each action, all in this process's memory."""

    def __init__(
        self,
        limits: Mapping[Action, Limit],
        *,
        window_seconds: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        def limiter(limit: int) -> SlidingWindowLimiter:
            return SlidingWindowLimiter(
                limit=limit, window_seconds=window_seconds, max_keys=max_keys, clock=clock
            )

        self._by_address = {action: limiter(lim.per_address) for action, lim in limits.items()}
        self._by_account = {
            action: limiter(lim.per_account)
            for action, lim in limits.items()
            if lim.per_account is not None
        }

    def allow(self, action: Action, *, address: str, account: str | None = None) -> bool:
        """Count one hit of `action`; False when the address or the account has used up its window.

        Without a limit for `action`, everything is allowed.
        """
        by_address = self._by_address.get(action)
        if by_address is not None and not by_address.hit(address):
            return False
        by_account = self._by_account.get(action)
        return account is None or by_account is None or by_account.hit(_digest(account))
