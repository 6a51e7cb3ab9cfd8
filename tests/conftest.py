"""Test fixtures: a real database (SQLite file, or PostgreSQL when INVITATIONS_TEST_DATABASE_URL
names one), migrated once per session and emptied before each test; the real app over HTTP."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tortoise import Tortoise, connections

from app import create_app
from cli.database import migrate
from cli.demo import seed_demo
from config import Settings, tortoise_config
from domain import tracing
from tests.helpers import TEST_SECRET, GraphQLClient


def _test_database_url(tmp: Path) -> str:
    base = os.environ.get("INVITATIONS_TEST_DATABASE_URL")
    if not base:
        return f"sqlite://{tmp}/test.sqlite3"
    return base


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    url = _test_database_url(tmp_path_factory.mktemp("db"))
    if not url.startswith("postgres"):
        yield url
        return
    # A fresh database in the private cluster, dropped at the end of the session.
    name = f"invitations_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield url.rsplit("/", 1)[0] + "/" + name
    # A new connection: the outage tests restart the server meanwhile.
    admin = await asyncpg.connect(url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        password_hash_profile="cheapest",
        mail_dir="var/test-mail",
    )


@pytest.fixture(scope="session")
async def orm(settings: Settings) -> AsyncIterator[None]:
    config = tortoise_config(settings.database_url)
    await migrate(config)
    await Tortoise.init(config=config, _enable_global_fallback=True)
    yield
    await Tortoise.close_connections()


TABLES = (
    "webhook_delivery",
    "webhook_endpoint",
    "bulk_operation_item",
    "bulk_operation",
    "referral",
    "invitation_status_change",
    "invitation",
    "invitation_count",
    "provider_account",
    "service_key",
    "access_token",
    "customer",
    "admin_user",
    "config_value",
    "email_template",
    "store_view",
    "website",
    "customer_group",
    "lease",
    "rate_limit_counter",
    "persisted_query",
)


async def _empty_database(is_sqlite: bool) -> None:
    conn = connections.get("default")
    if is_sqlite:
        for table in TABLES:
            await conn.execute_script(f"DELETE FROM {table}")  # noqa: S608 (fixed names)
        await conn.execute_script("DELETE FROM sqlite_sequence")
    else:
        await conn.execute_script(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")


@pytest.fixture(autouse=True)
async def clean_database(orm: None, settings: Settings) -> None:
    """Each test starts from the demo store and nothing else."""
    await _empty_database(settings.is_sqlite)
    await seed_demo()


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for the test, through the service's own set-up, into memory."""
    exporter = InMemorySpanExporter()
    assert tracing.set_up({}, exporter=exporter) is not None
    yield exporter
    tracing.shut_down()
