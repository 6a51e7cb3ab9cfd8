"""Automatic persisted queries: GraphQL documents registered once, then named by their SHA-256.

The documents live in the database, so one registered through any replica (or from the command
line) is known to all of them. Their number is bounded: once `limit` are registered, new ones are
refused (Registration.FULL) and the operation still runs, only unregistered. Concurrent
registrations on several replicas may pass the bound by as many as register at that moment.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from enum import Enum

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.clock import utcnow
from models.persisted_queries import PersistedQuery

SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Registration(Enum):
    """What registering a document did."""

    REGISTERED = "registered"
    KNOWN = "known"  # registered before (maybe by another replica at the same moment)
    FULL = "full"  # refused: `limit` documents are registered


def sha256_of(document: str) -> str:
    """The hash Apollo's clients send: lower-case hex SHA-256 of the document's UTF-8 text."""
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()


async def find(sha256: str) -> str | None:
    """The registered document with this hash, if any."""
    row = await PersistedQuery.get_or_none(sha256=sha256).only("sha256", "document")
    return row.document if row is not None else None


async def register(*, document: str, limit: int) -> Registration:
    """Registers `document` under its hash, unless `limit` documents are registered already."""
    sha256 = sha256_of(document)
    if await PersistedQuery.exists(sha256=sha256):
        return Registration.KNOWN
    if await PersistedQuery.all().count() >= limit:
        return Registration.FULL
    try:
        await PersistedQuery.create(sha256=sha256, document=document, created_at=utcnow())
    except IntegrityError:
        return Registration.KNOWN
    return Registration.REGISTERED


async def registered() -> list[tuple[str, str]]:
    """Every registered (hash, document), oldest first."""
    rows = (
        await PersistedQuery.all()
        .order_by("created_at", "sha256")
        .values_list("sha256", "document")
    )
    return [(str(sha256), str(document)) for sha256, document in rows]


async def register_all(documents: Sequence[str], *, limit: int) -> int | None:
    """Registers every document not registered yet, all or none: how many were new, or None
    (nothing written) when they would make more than `limit`."""
    hashes = {sha256_of(document): document for document in documents}
    async with in_transaction():
        known = set(
            await PersistedQuery.filter(sha256__in=list(hashes)).values_list("sha256", flat=True)
        )
        new = [(sha256, document) for sha256, document in hashes.items() if sha256 not in known]
        if new and await PersistedQuery.all().count() + len(new) > limit:
            return None
        now = utcnow()
        await PersistedQuery.bulk_create(
            [PersistedQuery(sha256=sha256, document=doc, created_at=now) for sha256, doc in new]
        )
    return len(new)
