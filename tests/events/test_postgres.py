"""Events on PostgreSQL: the NOTIFY payload, and a LISTEN connection that comes back."""

from __future__ import annotations

import asyncio
import os

import pytest
from tortoise import connections

import events
from events import Broker, Change
from events.postgres import decode, encode, listener_dsn, listening


def test_a_payload_carries_ids_only_and_reads_back() -> None:
    changes = [Change(7, 3), Change(8, None)]

    assert encode(changes) == "[[7,3],[8,null]]"
    assert decode(encode(changes)) == changes
    assert decode("not ours") == []


def test_the_listener_connects_without_tortoises_pool_parameters() -> None:
    url = "postgres://app:pw@db:5432/invitations?minsize=2&maxsize=20&sslmode=require"

    assert listener_dsn(url) == "postgresql://app:pw@db:5432/invitations?sslmode=require"


ON_POSTGRES = os.environ.get("INVITATIONS_TEST_DATABASE_URL", "").startswith("postgres")


@pytest.mark.skipif(
    not ON_POSTGRES, reason="SQLite has no LISTEN: events stay in their process (run on PostgreSQL)"
)
async def test_the_listener_listens_again_after_its_connection_is_killed(
    database_url: str,
) -> None:
    broker = Broker()
    async with listening(database_url, broker) as listener:
        with broker.subscription(10) as subscriber:
            await events.changed(1, 2)
            assert await subscriber.next(timeout=5) == Change(1, 2)

            await connections.get("default").execute_query(
                "SELECT pg_terminate_backend($1)", [listener.backend_pid]
            )
            for _ in range(250):
                if listener.connections_made == 2 and listener.listening.is_set():
                    break
                await asyncio.sleep(0.02)
            await events.changed(3, None)

            assert await subscriber.next(timeout=5) == Change(3, None)
            assert listener.connections_made == 2
