"""graphql-http's audit of GraphQL over HTTP (its `serverAudits`, run with node) against the app
served by a real uvicorn: no error and no warning. (Its notices are for GET requests, which the
service answers for persisted queries only: other queries go over POST.)"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from config import Settings
from tests.helpers import npm_installed
from tests.live import live_server

AUDIT = Path(__file__).parent.parent / "http_audit"


@pytest.fixture(scope="module")
def audit_script() -> Path:
    """The audit suite, installed from package-lock.json on first use."""
    return npm_installed(AUDIT, "graphql-http") / "audit.mjs"


async def test_the_graphql_over_http_audit_finds_nothing(
    settings: Settings, audit_script: Path
) -> None:
    async with live_server(settings) as ws_url:
        url = "http" + ws_url.removeprefix("ws")
        node = await asyncio.create_subprocess_exec(
            "node", str(audit_script), url, stdout=asyncio.subprocess.PIPE
        )
        output, _ = await asyncio.wait_for(node.communicate(), timeout=120)

    assert node.returncode == 0
    report = json.loads(output)
    assert report["error"] == []
    assert report["warn"] == []
    assert len(report["ok"]) >= 50  # the suite ran: 58 audits pass today
