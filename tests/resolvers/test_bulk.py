"""Bulk operations over the API: start, read, skipped items, cancel, and live progress."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from config import Settings
from domain import bulk
from models.invitation import InvitationStatus
from tests.domain.test_bulk import make_many, run_all
from tests.helpers import (
    GraphQLClient,
    admin_token,
    customer_token,
    error_codes,
    make_admin,
    make_customer,
)
from tests.live import live_client, live_server

OPERATION = "id action status total processed succeeded skipped actor createdAt finishedAt"
START = f"""
mutation Start($action: BulkInvitationAction!, $selection: InvitationSelection!) {{
  startBulkInvitationAction(action: $action, selection: $selection) {{
    operation {{ {OPERATION} }}
    userErrors {{ code field message }}
  }}
}}
"""
READ = f"""
query Read($id: ID!, $after: String) {{
  bulkOperation(id: $id) {{
    {OPERATION}
    skippedItems(first: 2, after: $after) {{
      nodes {{ invitationId code message }}
      pageInfo {{ hasNextPage endCursor }}
      totalCount
    }}
  }}
}}
"""
LIST = "{ bulkOperations(first: 1) { nodes { id } pageInfo { hasNextPage endCursor } totalCount } }"
CANCEL = """
mutation Cancel($id: ID!) {
  cancelBulkOperation(id: $id) { operation { status finishedAt } userErrors { code field } }
}
"""
GRID = "query Grid($filter: InvitationFilter) { invitations(filter: $filter) { totalCount } }"
UPDATES = f"subscription Progress($id: ID!) {{ bulkOperationUpdates(id: $id) {{ {OPERATION} }} }}"


@pytest.fixture
async def token() -> str:
    return await admin_token(await make_admin())


async def _start(gql: GraphQLClient, token: str, action: str, selection: dict[str, Any]) -> Any:
    body = await gql(START, {"action": action, "selection": selection}, token=token)
    return body["data"]["startBulkInvitationAction"]


async def test_discarding_a_filter_reports_progress_and_skipped_items(
    gql: GraphQLClient, token: str
) -> None:
    ids = await make_many(1200)
    await make_many(3, status=InvitationStatus.ACCEPTED)
    selection = {"filter": {"status": ["SENT", "ACCEPTED"]}, "excludeIds": [str(ids[5])]}

    started = await _start(gql, token, "DISCARD", selection)

    operation = started["operation"]
    assert started["userErrors"] == []
    assert (operation["status"], operation["total"], operation["processed"]) == ("QUEUED", 1202, 0)
    assert operation["actor"] == "admin:root"
    await run_all()
    body = await gql(READ, {"id": operation["id"]}, token=token)
    read = body["data"]["bulkOperation"]
    assert (read["status"], read["processed"], read["succeeded"], read["skipped"]) == (
        "COMPLETED",
        1202,
        1199,
        3,
    )
    assert read["finishedAt"] is not None
    skipped = read["skippedItems"]
    assert skipped["totalCount"] == 3
    assert [n["code"] for n in skipped["nodes"]] == ["INVALID_STATUS", "INVALID_STATUS"]
    assert "ACCEPTED" in skipped["nodes"][0]["message"]
    after = skipped["pageInfo"]["endCursor"]
    rest = await gql(READ, {"id": operation["id"], "after": after}, token=token)
    assert len(rest["data"]["bulkOperation"]["skippedItems"]["nodes"]) == 1
    grid = await gql(GRID, {"filter": {"status": ["CANCELED"]}}, token=token)
    assert grid["data"]["invitations"]["totalCount"] == 1199
    grid = await gql(GRID, {"filter": {"status": ["SENT"]}}, token=token)
    assert grid["data"]["invitations"]["totalCount"] == 1


async def test_operations_are_listed_newest_first(gql: GraphQLClient, token: str) -> None:
    await make_many(3)
    first = await _start(gql, token, "DISCARD", {"filter": {}})
    second = await _start(gql, token, "RESEND", {"filter": {}})

    listed = (await gql(LIST, token=token))["data"]["bulkOperations"]

    assert [n["id"] for n in listed["nodes"]] == [second["operation"]["id"]]
    assert listed["totalCount"] == 2
    assert listed["pageInfo"]["hasNextPage"] is True
    assert first["operation"]["id"] != second["operation"]["id"]


@pytest.mark.parametrize(
    ("selection", "field"),
    [
        ({"filter": {}, "excludeIds": ["1", "nope"]}, ["selection", "excludeIds", "1"]),
        (
            {"filter": {"sentAt": {"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"}}},
            ["selection", "filter", "sentAt", "from"],
        ),
    ],
)
async def test_a_bad_selection_is_a_user_error(
    gql: GraphQLClient, token: str, selection: dict[str, Any], field: list[str]
) -> None:
    started = await _start(gql, token, "DISCARD", selection)

    assert started["operation"] is None
    assert [(e["code"], e["field"]) for e in started["userErrors"]] == [("INVALID_INPUT", field)]


async def test_cancel_stops_the_operation(gql: GraphQLClient, token: str) -> None:
    await make_many(1000)
    operation = (await _start(gql, token, "DISCARD", {"filter": {}}))["operation"]
    await bulk.run_chunk(400)

    canceled = (await gql(CANCEL, {"id": operation["id"]}, token=token))["data"]

    assert canceled["cancelBulkOperation"]["operation"]["status"] == "CANCELED"
    assert await run_all() == 0
    read = (await gql(READ, {"id": operation["id"]}, token=token))["data"]["bulkOperation"]
    assert (read["status"], read["processed"]) == ("CANCELED", 400)
    again = (await gql(CANCEL, {"id": operation["id"]}, token=token))["data"]
    assert again["cancelBulkOperation"]["userErrors"] == [
        {"code": "INVALID_STATUS", "field": ["id"]}
    ]
    unknown = (await gql(CANCEL, {"id": "999999"}, token=token))["data"]
    assert unknown["cancelBulkOperation"]["userErrors"] == [{"code": "NOT_FOUND", "field": ["id"]}]


async def test_only_admins_with_invitations_may_act(gql: GraphQLClient) -> None:
    customer = await customer_token(await make_customer())
    body = await gql(START, {"action": "DISCARD", "selection": {"filter": {}}}, token=customer)
    assert error_codes(body) == ["FORBIDDEN"]
    reporter = await admin_token(await make_admin("reporter", permissions=[]))
    body = await gql(LIST, token=reporter)
    assert error_codes(body) == ["FORBIDDEN"]


@pytest.fixture
async def url(settings: Settings) -> AsyncIterator[str]:
    async with live_server(settings) as ws_url:
        yield ws_url


async def test_a_websocket_client_sees_the_progress_until_the_end(
    url: str, gql: GraphQLClient, token: str
) -> None:
    await make_many(1500)
    operation = (await _start(gql, token, "DISCARD", {"filter": {}}))["operation"]

    seen: list[tuple[str, int]] = []
    async with live_client(url, token=token) as client:
        await client.subscribe(UPDATES, {"id": operation["id"]}, wait=False)
        first = await client.next_invitation("bulkOperationUpdates")
        seen.append((first["status"], first["processed"]))
        for _ in range(3):
            await bulk.run_chunk(500)
            update = await client.next_invitation("bulkOperationUpdates")
            seen.append((update["status"], update["processed"]))
        ended = await client.receive()

    assert seen == [("QUEUED", 0), ("RUNNING", 500), ("RUNNING", 1000), ("COMPLETED", 1500)]
    assert ended["type"] == "complete"


async def test_updates_come_at_most_a_few_times_a_second(
    url: str, gql: GraphQLClient, token: str
) -> None:
    await make_many(2000)
    operation = (await _start(gql, token, "DISCARD", {"filter": {}}))["operation"]
    async with live_client(url, token=token) as client:
        await client.subscribe(UPDATES, {"id": operation["id"]}, wait=False)
        await client.next_invitation("bulkOperationUpdates")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await run_all(50)  # 40 chunks, as fast as they go
        updates = 0
        while True:
            message = await client.receive()
            if message["type"] == "complete":
                break
            updates += 1
        elapsed = loop.time() - started

    assert 1 <= updates <= elapsed / 0.25 + 2
