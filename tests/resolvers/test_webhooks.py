"""Webhook endpoints over the API: the secret shown once and stored encrypted, changes, rotation,
deletion, redelivery, and the URL rules (SSRF)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app import create_app
from config import Environment, Settings
from domain import webhooks
from models.webhooks import WebhookDelivery, WebhookDeliveryState, WebhookEndpoint
from tests.helpers import GraphQLClient, admin_token, make_admin
from tests.invitation_factories import make_invitation

ENDPOINT = "id url description events enabled createdAt"
CREATE = f"""
mutation Create($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{
    endpoint {{ {ENDPOINT} }} secret userErrors {{ code field message }}
  }}
}}
"""
UPDATE = f"""
mutation Update($id: ID!, $input: UpdateWebhookEndpointInput!) {{
  updateWebhookEndpoint(id: $id, input: $input) {{
    endpoint {{ {ENDPOINT} }} userErrors {{ code field message }}
  }}
}}
"""
DELETE = """
mutation Delete($id: ID!) {
  deleteWebhookEndpoint(id: $id) { endpoint { id } userErrors { code field } }
}
"""
ROTATE = """
mutation Rotate($id: ID!) { rotateWebhookSecret(id: $id) { secret userErrors { code field } } }
"""
REDELIVER = """
mutation Redeliver($id: ID!) {
  redeliverWebhook(deliveryId: $id) {
    delivery { id webhookId state attempts } userErrors { code field }
  }
}
"""
LIST = """
{ webhookEndpoints { id url events
    deliveries(first: 1) { nodes { id webhookId event state } pageInfo { hasNextPage } totalCount }
} }
"""


@pytest.fixture
async def token() -> str:
    return await admin_token(await make_admin())


async def _create(gql: GraphQLClient, token: str, **input: Any) -> Any:
    body = await gql(CREATE, {"input": input}, token=token)
    return body["data"]["createWebhookEndpoint"]


async def test_the_secret_is_shown_once_and_stored_encrypted(
    gql: GraphQLClient, token: str, settings: Settings
) -> None:
    created = await _create(
        gql,
        token,
        url="http://127.0.0.1:9/hook",
        events=["INVITATION_ACCEPTED"],
        description="rewards",
    )

    assert created["userErrors"] == []
    assert created["secret"].startswith("whsec_")
    assert created["endpoint"]["events"] == ["INVITATION_ACCEPTED"]
    assert created["endpoint"]["enabled"] is True
    row = await WebhookEndpoint.get(id=int(created["endpoint"]["id"]))
    assert created["secret"] not in row.secret_encrypted
    now = row.created_at
    assert webhooks.signing_secrets(row, secret_key=settings.secret_key, now=now) == [
        created["secret"]
    ]
    listed = (await gql(LIST, token=token))["data"]["webhookEndpoints"]
    assert "secret" not in str(listed)
    assert [e["url"] for e in listed] == ["http://127.0.0.1:9/hook"]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/hook", "INVALID_INPUT"),
        ("https://user:pw@example.com/hook", "INVALID_INPUT"),
        ("https:///hook", "INVALID_INPUT"),
        ("not a url", "INVALID_INPUT"),
        ("http://[::1", "INVALID_INPUT"),
    ],
)
async def test_bad_urls_are_refused(gql: GraphQLClient, token: str, url: str, code: str) -> None:
    created = await _create(gql, token, url=url, events=["INVITATION_SENT"])

    assert created["endpoint"] is None
    assert created["secret"] is None
    assert [(e["code"], e["field"]) for e in created["userErrors"]] == [(code, ["input", "url"])]
    assert await WebhookEndpoint.all().count() == 0


async def test_no_events_is_refused(gql: GraphQLClient, token: str) -> None:
    created = await _create(gql, token, url="http://127.0.0.1:9/", events=[])

    assert [(e["code"], e["field"]) for e in created["userErrors"]] == [
        ("INVALID_INPUT", ["input", "events"])
    ]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_private_addresses_are_refused_in_production(
    settings: Settings, token: str, url: str
) -> None:
    production = settings.model_copy(update={"env": Environment.PRODUCTION})
    assert production.webhooks_may_reach_private_networks is False
    app = create_app(production, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        created = await _create(GraphQLClient(client), token, url=url, events=["INVITATION_SENT"])

    assert [(e["code"], e["field"]) for e in created["userErrors"]] == [
        ("NOT_ALLOWED", ["input", "url"])
    ]
    assert await WebhookEndpoint.all().count() == 0


async def test_private_networks_may_be_allowed_in_production(settings: Settings) -> None:
    allowed = settings.model_copy(
        update={"env": Environment.PRODUCTION, "webhook_allow_private_networks": True}
    )
    assert allowed.webhooks_may_reach_private_networks is True
    assert settings.webhooks_may_reach_private_networks is True  # development


async def test_update_changes_what_is_given(gql: GraphQLClient, token: str) -> None:
    created = await _create(gql, token, url="http://127.0.0.1:9/", events=["INVITATION_SENT"])
    endpoint_id = created["endpoint"]["id"]

    body = await gql(
        UPDATE,
        {
            "id": endpoint_id,
            "input": {"events": ["INVITATION_CREATED", "INVITATION_EXPIRED"], "enabled": False},
        },
        token=token,
    )

    updated = body["data"]["updateWebhookEndpoint"]["endpoint"]
    assert updated["events"] == ["INVITATION_CREATED", "INVITATION_EXPIRED"]
    assert updated["enabled"] is False
    assert updated["url"] == "http://127.0.0.1:9/"
    refused = await gql(UPDATE, {"id": endpoint_id, "input": {"url": "gopher://x"}}, token=token)
    assert refused["data"]["updateWebhookEndpoint"]["userErrors"][0]["field"] == ["input", "url"]
    missing = await gql(UPDATE, {"id": "999", "input": {"enabled": True}}, token=token)
    assert missing["data"]["updateWebhookEndpoint"]["userErrors"] == [
        {"code": "NOT_FOUND", "field": ["id"], "message": "No such webhook endpoint."}
    ]


async def test_rotation_keeps_the_old_secret_signing_for_a_day(
    gql: GraphQLClient, token: str, settings: Settings
) -> None:
    created = await _create(gql, token, url="http://127.0.0.1:9/", events=["INVITATION_SENT"])
    endpoint_id = int(created["endpoint"]["id"])

    rotated = (await gql(ROTATE, {"id": str(endpoint_id)}, token=token))["data"]

    new = rotated["rotateWebhookSecret"]["secret"]
    assert new.startswith("whsec_")
    assert new != created["secret"]
    row = await WebhookEndpoint.get(id=endpoint_id)
    secret_key = settings.secret_key
    now = row.updated_at
    assert webhooks.signing_secrets(row, secret_key=secret_key, now=now) == [
        new,
        created["secret"],
    ]
    later = now + webhooks.ROTATION_OVERLAP
    assert webhooks.signing_secrets(row, secret_key=secret_key, now=later) == [new]


async def test_delete_removes_the_endpoint_and_its_deliveries(
    gql: GraphQLClient, token: str
) -> None:
    created = await _create(gql, token, url="http://127.0.0.1:9/", events=["INVITATION_CREATED"])
    invitation = await make_invitation(None)
    await webhooks.record(webhooks.WebhookEventType.INVITATION_CREATED, [invitation.id])
    assert await WebhookDelivery.all().count() == 1

    body = await gql(DELETE, {"id": created["endpoint"]["id"]}, token=token)

    assert body["data"]["deleteWebhookEndpoint"]["userErrors"] == []
    assert await WebhookEndpoint.all().count() == 0
    assert await WebhookDelivery.all().count() == 0


async def test_deliveries_are_listed_and_a_settled_one_redelivered(
    gql: GraphQLClient, token: str
) -> None:
    await _create(gql, token, url="http://127.0.0.1:9/", events=["INVITATION_CREATED"])
    first, second = await make_invitation(None), await make_invitation(None, "two@example.com")
    await webhooks.record(webhooks.WebhookEventType.INVITATION_CREATED, [first.id, second.id])

    listed = (await gql(LIST, token=token))["data"]["webhookEndpoints"][0]["deliveries"]

    assert listed["totalCount"] == 2
    assert listed["pageInfo"]["hasNextPage"] is True
    newest = listed["nodes"][0]
    pending = await gql(REDELIVER, {"id": newest["id"]}, token=token)
    assert pending["data"]["redeliverWebhook"]["userErrors"][0]["code"] == "INVALID_STATUS"
    await WebhookDelivery.filter(id=int(newest["id"])).update(
        state=WebhookDeliveryState.FAILED, attempts=9
    )
    again = (await gql(REDELIVER, {"id": newest["id"]}, token=token))["data"]["redeliverWebhook"]
    assert again["delivery"] == {
        "id": newest["id"],
        "webhookId": newest["webhookId"],
        "state": "PENDING",
        "attempts": 0,
    }
    missing = await gql(REDELIVER, {"id": "999"}, token=token)
    assert missing["data"]["redeliverWebhook"]["userErrors"] == [
        {"code": "NOT_FOUND", "field": ["deliveryId"]}
    ]


async def test_an_admin_without_the_permission_is_refused(gql: GraphQLClient) -> None:
    other = await admin_token(await make_admin("clerk", permissions=[]))

    body = await gql(LIST, token=other)

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
