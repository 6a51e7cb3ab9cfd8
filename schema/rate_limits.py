"""The service's abuse limits: hits per window, per client address and per account.

Counted by the `limits` library in one of two storages (INVITATIONS_RATE_LIMIT_STORAGE):

- `memory`: this process's memory, a moving window (exact: at most `limit` hits in any window).
  Each replica counts on its own, so N replicas allow N times as much: for one process, or SQLite.
- `database`: a counter row per key in `rate_limit_counter`, shared by every replica on the
  database, a fixed window (at most `limit` hits per window, so up to twice that across the
  boundary of two windows). Each hit is one atomic upsert: replicas never lose a count.

A key is an action and a client address or an account digest; a refused hit is not counted
against the moving window, and costs a fixed-window counter one more (harmless: it only delays
the reset until the window ends, which it would anyway).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter
from tortoise import connections

from config import RateLimitStorage

# How often (seconds, per process) the database storage deletes counters whose window ended.
CLEANUP_SECONDS = 60.0


def _digest(text: str) -> str:
    # Account names come from the request (an e-mail, a username) and may be a megabyte long:
    # a fixed-size digest keeps each key small whatever the client sends.
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class DatabaseStorage(Storage):
    """Fixed-window counters in the `rate_limit_counter` table (models.leases.RateLimitCounter).

    `limits` ships storages for memory, Redis, Memcached and MongoDB, none over SQL: this is the
    smallest one its fixed-window strategy needs (incr, get, get_expiry).
    """

    STORAGE_SCHEME = ["invitations+database"]

    def __init__(self, uri: str | None = None, **options: Any) -> None:
        super().__init__(uri, **options)
        self._next_cleanup = 0.0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ()

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        client = connections.get("default")
        postgres = client.capabilities.dialect == "postgres"
        mark = "$" if postgres else "?"  # numbered: SQLite's ?4 may be used twice, like $4
        p = [f"{mark}{n}" for n in range(1, 5)]
        # A counter whose window ended starts again; the SET clauses both read the old row.
        sql = (
            f"INSERT INTO rate_limit_counter AS c (key, count, expires_at) VALUES ({p[0]}, {p[1]}, "  # noqa: S608 (placeholders only)
            f"{p[2]}) ON CONFLICT (key) DO UPDATE SET "
            f"count = CASE WHEN c.expires_at <= {p[3]} THEN excluded.count "
            "ELSE c.count + excluded.count END, "
            f"expires_at = CASE WHEN c.expires_at <= {p[3]} THEN excluded.expires_at "
            "ELSE c.expires_at END RETURNING count"
        )
        rows = await client.execute_query_dict(sql, [_digest(key), amount, now + expiry, now])
        if now >= self._next_cleanup:
            self._next_cleanup = now + CLEANUP_SECONDS
            await client.execute_query(
                f"DELETE FROM rate_limit_counter WHERE expires_at <= {p[0]}",  # noqa: S608
                [now],
            )
        return int(rows[0]["count"])

    async def get(self, key: str) -> int:
        row = await self._row(key)
        return int(row["count"]) if row is not None and row["expires_at"] > time.time() else 0

    async def get_expiry(self, key: str) -> float:
        row = await self._row(key)
        return float(row["expires_at"]) if row is not None else time.time()

    async def _row(self, key: str) -> dict[str, Any] | None:
        client = connections.get("default")
        p = "$1" if client.capabilities.dialect == "postgres" else "?"
        _, rows = await client.execute_query(
            f"SELECT count, expires_at FROM rate_limit_counter WHERE key = {p}",  # noqa: S608
            [_digest(key)],
        )
        return dict(rows[0]) if rows else None

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        client = connections.get("default")
        count, _ = await client.execute_query("DELETE FROM rate_limit_counter")
        return int(count)

    async def clear(self, key: str) -> None:
        client = connections.get("default")
        p = "$1" if client.capabilities.dialect == "postgres" else "?"
        await client.execute_query(
            f"DELETE FROM rate_limit_counter WHERE key = {p}",  # noqa: S608
            [_digest(key)],
        )


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
    """A per-address and a per-account limit for each action, in one storage."""

    def __init__(
        self,
        limits: Mapping[Action, Limit],
        *,
        window_seconds: int,
        storage: RateLimitStorage = RateLimitStorage.MEMORY,
        sign_in_failures: int = 5,
        sign_in_failure_seconds: int = 600,
    ) -> None:
        self.storage = storage
        self._limiter: RateLimiter = (
            MovingWindowRateLimiter(MemoryStorage())
            if storage is RateLimitStorage.MEMORY
            else FixedWindowRateLimiter(DatabaseStorage())
        )

        def item(amount: int, kind: str, action: Action) -> RateLimitItemPerSecond:
            namespace = f"{action.name.lower()}:{kind}"
            return RateLimitItemPerSecond(amount, window_seconds, namespace=namespace)

        self._by_address = {a: item(lim.per_address, "address", a) for a, lim in limits.items()}
        self._by_account = {
            a: item(lim.per_account, "account", a)
            for a, lim in limits.items()
            if lim.per_account is not None
        }
        # Failed sign-ins per (account, client address): see `sign_in_failed`.
        self._failures = RateLimitItemPerSecond(
            sign_in_failures, sign_in_failure_seconds, namespace="sign_in_failures"
        )

    async def locked_out(self, *, address: str, account: str) -> bool:
        """Has this address failed to sign in to this account too often lately?"""
        return not await self._limiter.test(self._failures, _digest(f"{account}\0{address}"))

    async def sign_in_failed(self, *, address: str, account: str) -> bool:
        """Count a failed sign-in; False when this address is now held off from this account."""
        key = _digest(f"{account}\0{address}")
        await self._limiter.hit(self._failures, key)
        return await self._limiter.test(self._failures, key)

    async def allow(self, action: Action, *, address: str, account: str | None = None) -> bool:
        """Count one hit of `action`; False when the address or the account has used up its window.

        Without a limit for `action`, everything is allowed.
        """
        by_address = self._by_address.get(action)
        if by_address is not None and not await self._limiter.hit(by_address, _digest(address)):
            return False
        by_account = self._by_account.get(action)
        if account is None or by_account is None:
            return True
        return await self._limiter.hit(by_account, _digest(account))
