"""Apollo Client's persisted-queries link (npm @apollo/client, run with node) against the app
served by a real uvicorn: a query by hash over GET, registered on its first miss, found after;
a mutation by hash over POST."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from models.persisted_queries import PersistedQuery
from tests.helpers import npm_installed
from tests.live import live_server

APOLLO = Path(__file__).parent.parent / "apollo_apq"


@pytest.fixture(scope="module")
def apollo_script() -> Path:
    """The client, installed from package-lock.json on first use."""
    return npm_installed(APOLLO, "@apollo/client") / "apq.mjs"


async def run_apollo(settings: Settings, script: Path) -> dict[str, Any]:
    async with live_server(settings) as ws_url:
        url = "http" + ws_url.removeprefix("ws")
        node = await asyncio.create_subprocess_exec(
            "node", str(script), url, stdout=asyncio.subprocess.PIPE
        )
        output, _ = await asyncio.wait_for(node.communicate(), timeout=120)
    assert node.returncode == 0
    report: dict[str, Any] = json.loads(output)
    return report


def exchanges(report: dict[str, Any], name: str) -> list[dict[str, Any]]:
    operation = next(o for o in report["operations"] if o["name"] == name)
    start, end = operation["exchanges"]
    return list(report["exchanges"][start:end])


async def test_apollo_clients_link_registers_on_a_miss_and_then_sends_the_hash_alone(
    settings: Settings, apollo_script: Path
) -> None:
    report = await run_apollo(settings, apollo_script)

    operations = {o["name"]: o for o in report["operations"]}
    assert all(o["error"] is None for o in operations.values()), operations
    codes = [v["code"] for v in operations["second query"]["data"]["storeViews"]]
    assert codes == ["default", "sv", "zh"]
    assert operations["first query"]["data"] == operations["second query"]["data"]
    miss, register = exchanges(report, "first query")
    assert (miss["method"], miss["sentQuery"], miss["status"]) == ("GET", False, 200)
    assert miss["body"]["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert (register["method"], register["sentQuery"]) == ("POST", True)
    assert register["extensions"]["persistedQuery"]["version"] == 1
    (hit,) = exchanges(report, "second query")
    assert (hit["method"], hit["sentQuery"], hit["status"]) == ("GET", False, 200)
    assert hit["cacheControl"].startswith("public, max-age=")
    # Mutations go by POST, by hash once registered.
    mutation_miss, mutation_register = exchanges(report, "first mutation")
    assert (mutation_miss["method"], mutation_miss["sentQuery"]) == ("POST", False)
    assert (mutation_register["method"], mutation_register["sentQuery"]) == ("POST", True)
    (mutation_hit,) = exchanges(report, "second mutation")
    assert (mutation_hit["method"], mutation_hit["sentQuery"]) == ("POST", False)
    signed_in = operations["second mutation"]["data"]["generateAdminToken"]
    assert signed_in["token"] is None
    assert signed_in["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    assert await PersistedQuery.all().count() == 2
