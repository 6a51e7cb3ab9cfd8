"""Argon2 password hashing, off the event loop (hashing costs tens of milliseconds of CPU)."""

from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

_PROFILES = {
    "rfc9106_low_memory": profiles.RFC_9106_LOW_MEMORY,
    "cheapest": profiles.CHEAPEST,
}


@cache
def _hasher(profile: str) -> PasswordHasher:
    return PasswordHasher.from_parameters(_PROFILES[profile])


@cache
def _dummy_hash(profile: str) -> str:
    return _hasher(profile).hash("not a password anyone has")


async def hash_password(password: str, *, profile: str) -> str:
    return await asyncio.to_thread(_hasher(profile).hash, password)


async def verify_password(password_hash: str | None, password: str, *, profile: str) -> bool:
    """Whether the password matches; with no hash, spends the same time and says no."""

    def verify() -> bool:
        try:
            return _hasher(profile).verify(password_hash or _dummy_hash(profile), password)
        except (VerificationError, InvalidHashError):
            return False

    matched = await asyncio.to_thread(verify)
    return matched and password_hash is not None
