"""Webhook endpoints (permission WEBHOOKS): create, change, delete, rotate, list, redeliver."""

from __future__ import annotations

import strawberry

from domain import webhooks
from domain.errors import DomainError
from schema.context import Info
from schema.errors import UserError
from schema.webhooks import (
    CreateWebhookEndpointInput,
    CreateWebhookEndpointPayload,
    RedeliverWebhookPayload,
    RotateWebhookSecretPayload,
    UpdateWebhookEndpointInput,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointPayload,
)

ENDPOINT_ID = {"id": "id"}
DELIVERY_ID = {"id": "deliveryId"}


def _keys(info: Info) -> webhooks.Keys:
    settings = info.context.settings
    return webhooks.Keys(
        secret_key=settings.secret_key,
        allow_private=settings.webhooks_may_reach_private_networks,
    )


async def webhook_endpoints(info: Info) -> list[WebhookEndpoint]:
    return [WebhookEndpoint.from_model(row) for row in await webhooks.endpoints()]


async def create_webhook_endpoint(
    info: Info, input: CreateWebhookEndpointInput
) -> CreateWebhookEndpointPayload:
    try:
        created = await webhooks.create(
            url=input.url, events=input.events, description=input.description, keys=_keys(info)
        )
    except DomainError as error:
        return CreateWebhookEndpointPayload(
            endpoint=None, secret=None, user_errors=[UserError.from_domain(error)]
        )
    return CreateWebhookEndpointPayload(
        endpoint=WebhookEndpoint.from_model(created.endpoint),
        secret=created.secret,
        user_errors=[],
    )


async def update_webhook_endpoint(
    info: Info, id: strawberry.ID, input: UpdateWebhookEndpointInput
) -> WebhookEndpointPayload:
    try:
        endpoint = await webhooks.update(
            raw_id=id,
            url=input.url,
            events=input.events,
            enabled=input.enabled,
            description=input.description,
            keys=_keys(info),
        )
    except DomainError as error:
        refused = UserError.from_domain(error, arguments=ENDPOINT_ID)
        return WebhookEndpointPayload(endpoint=None, user_errors=[refused])
    return WebhookEndpointPayload(endpoint=WebhookEndpoint.from_model(endpoint), user_errors=[])


async def delete_webhook_endpoint(info: Info, id: strawberry.ID) -> WebhookEndpointPayload:
    try:
        endpoint = await webhooks.delete(raw_id=id)
    except DomainError as error:
        refused = UserError.from_domain(error, arguments=ENDPOINT_ID)
        return WebhookEndpointPayload(endpoint=None, user_errors=[refused])
    return WebhookEndpointPayload(endpoint=WebhookEndpoint.from_model(endpoint), user_errors=[])


async def rotate_webhook_secret(info: Info, id: strawberry.ID) -> RotateWebhookSecretPayload:
    try:
        secret = await webhooks.rotate_secret(raw_id=id, keys=_keys(info))
    except DomainError as error:
        refused = UserError.from_domain(error, arguments=ENDPOINT_ID)
        return RotateWebhookSecretPayload(secret=None, user_errors=[refused])
    return RotateWebhookSecretPayload(secret=secret, user_errors=[])


async def redeliver_webhook(info: Info, delivery_id: strawberry.ID) -> RedeliverWebhookPayload:
    try:
        delivery = await webhooks.redeliver(raw_id=delivery_id)
    except DomainError as error:
        refused = UserError.from_domain(error, arguments=DELIVERY_ID)
        return RedeliverWebhookPayload(delivery=None, user_errors=[refused])
    return RedeliverWebhookPayload(delivery=WebhookDelivery.from_model(delivery), user_errors=[])
