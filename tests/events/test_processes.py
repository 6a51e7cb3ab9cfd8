"""Two server processes on one database: whose subscribers hear a change made through the other.

On PostgreSQL every change goes out as a NOTIFY and every serving process LISTENs, so a change made
through one process reaches the subscribers of the other. On SQLite events stay in the process
that made the change (docs/api.md, "Live updates"): the same scenario must show exactly that.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import httpx

from config import Settings
from tests.helpers import customer_token, make_customer
from tests.live import live_client, server_process

MINE = "subscription { myInvitationUpdates { email status } }"
SEND = """
mutation Send($emails: [String!]!) {
  sendInvitations(input: {emails: $emails}) { userErrors { code } }
}
"""


async def _subscriptions(base: str) -> float:
    async with httpx.AsyncClient(base_url=base) as http:
        metrics = (await http.get("/metrics")).text
    line = next(x for x in metrics.splitlines() if x.startswith("invitations_live_subscriptions "))
    return float(line.split()[1])


async def _send(base: str, token: str, email: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.post(
            "/graphql",
            json={"query": SEND, "variables": {"emails": [email]}},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.json()["data"]["sendInvitations"]["userErrors"] == [], response.text


async def test_a_change_through_one_process_reaches_the_subscribers_of_the_other(
    settings: Settings,
) -> None:
    token = await customer_token(await make_customer("alice@example.com"))
    async with AsyncExitStack() as stack:
        one, other = await asyncio.gather(
            stack.enter_async_context(server_process(settings)),
            stack.enter_async_context(server_process(settings)),
        )
        ws_url = other.replace("http://", "ws://") + "/graphql"
        client = await stack.enter_async_context(live_client(ws_url, token=token))
        await client.subscribe(MINE, wait=False)
        for _ in range(200):
            if await _subscriptions(other) == 1:
                break
            await asyncio.sleep(0.02)

        await _send(one, token, "through-one@example.com")

        if settings.is_sqlite:
            # Documented: on SQLite, events do not cross processes.
            await client.nothing_within(0.5)
        else:
            update = await client.next_invitation("myInvitationUpdates")
            assert update == {"email": "through-one@example.com", "status": "NOT_SENT"}
        # Either way, a change made through the subscriber's own process reaches it.
        await _send(other, token, "through-other@example.com")
        update = await client.next_invitation("myInvitationUpdates")
        assert update == {"email": "through-other@example.com", "status": "NOT_SENT"}
