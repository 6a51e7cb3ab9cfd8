"""GraphQL types of webhook endpoints and their deliveries (SPEC §13)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from domain import webhooks
from domain.pagination import Page
from models import webhooks as m
from schema.errors import UserError
from schema.pagination import PageInfo, decode_cursor, encode_cursor, page_size

strawberry.enum(
    m.WebhookEventType,
    name="WebhookEvent",
    description='What happened to an invitation; the body\'s `type` is e.g. "invitation.sent".',
)
strawberry.enum(
    m.WebhookDeliveryState,
    name="WebhookDeliveryState",
    description="PENDING (waiting or retrying), DELIVERED (a 2xx), FAILED (retries exhausted).",
)


@strawberry.type(description="One event for one endpoint, and where its delivery stands.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="Delivery id (redeliverWebhook takes it).")
    webhook_id: str = strawberry.field(
        description="The webhook-id header: the same for every retry of this delivery."
    )
    event: m.WebhookEventType = strawberry.field(description="The event it reports.")
    state: m.WebhookDeliveryState = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(description="POSTs tried so far.")
    last_status_code: int | None = strawberry.field(description="The last answer's HTTP status.")
    last_error: str | None = strawberry.field(description="Why the last attempt failed.")
    next_attempt_at: datetime | None = strawberry.field(description="When it is tried next.")
    created_at: datetime = strawberry.field(description="When the event happened.")
    delivered_at: datetime | None = strawberry.field(description="When a 2xx came back.")

    @classmethod
    def from_model(cls, row: m.WebhookDelivery) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(str(row.id)),
            webhook_id=row.webhook_id,
            event=row.event,
            state=row.state,
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
        )


@strawberry.type(description="A page of deliveries, newest first.")
class WebhookDeliveryConnection:
    nodes: list[WebhookDelivery] = strawberry.field(description="The deliveries of this page.")
    page_info: PageInfo = strawberry.field(description="Where the page starts and ends.")
    page: strawberry.Private[Page[m.WebhookDelivery]]

    @strawberry.field(description="How many deliveries the endpoint has.")
    async def total_count(self) -> int:
        return await self.page.total_count()


@strawberry.type(description="A URL of the store's own systems that receives signed events.")
class WebhookEndpoint:
    id: strawberry.ID = strawberry.field(description="Endpoint id.")
    url: str = strawberry.field(description="Where the POSTs go.")
    description: str | None = strawberry.field(description="What it is for, for people.")
    events: list[m.WebhookEventType] = strawberry.field(description="The events it receives.")
    enabled: bool = strawberry.field(
        description="Whether events are recorded and sent to it (410 Gone, or five days of "
        "failures, disable it)."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    row: strawberry.Private[m.WebhookEndpoint]

    @classmethod
    def from_model(cls, row: m.WebhookEndpoint) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(str(row.id)),
            url=row.url,
            description=row.description,
            events=[m.WebhookEventType(event) for event in row.events],
            enabled=row.enabled,
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="Its deliveries, newest first.")
    async def deliveries(
        self,
        first: Annotated[int | None, strawberry.argument(description="Page size, 1 to 100.")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The endCursor of the previous page.")
        ] = None,
    ) -> WebhookDeliveryConnection:
        page = await webhooks.deliveries(
            self.row,
            first=page_size(20 if first is None else first, maximum=100),
            after=decode_cursor(after)[1] if after is not None else None,
        )
        cursors = [encode_cursor(row.id, row.id) for row in page.rows]
        return WebhookDeliveryConnection(
            nodes=[WebhookDelivery.from_model(row) for row in page.rows],
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=cursors[0] if cursors else None,
                end_cursor=cursors[-1] if cursors else None,
            ),
            page=page,
        )


@strawberry.input(description="A new endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="http(s) URL without credentials.")
    events: list[m.WebhookEventType] = strawberry.field(description="At least one event.")
    description: str | None = strawberry.field(default=None, description="At most 255 chars.")


@strawberry.input(description="What to change of an endpoint; what is left out stays.")
class UpdateWebhookEndpointInput:
    url: str | None = strawberry.field(default=None, description="A new URL.")
    events: list[m.WebhookEventType] | None = strawberry.field(
        default=None, description="The new set of events."
    )
    enabled: bool | None = strawberry.field(default=None, description="Enable or disable it.")
    description: str | None = strawberry.field(default=None, description="A new description.")


@strawberry.type(description="Result of createWebhookEndpoint.")
class CreateWebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = strawberry.field(description="The endpoint, enabled.")
    secret: str | None = strawberry.field(
        description='Its signing secret ("whsec_…"), shown once; store it to verify signatures.'
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was not created.")


@strawberry.type(description="Result of updateWebhookEndpoint and deleteWebhookEndpoint.")
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = strawberry.field(description="The endpoint.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type(description="Result of rotateWebhookSecret.")
class RotateWebhookSecretPayload:
    secret: str | None = strawberry.field(
        description="The new secret, shown once; the old one keeps signing beside it for 24 h."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was not rotated.")


@strawberry.type(description="Result of redeliverWebhook.")
class RedeliverWebhookPayload:
    delivery: WebhookDelivery | None = strawberry.field(description="The delivery, PENDING.")
    user_errors: list[UserError] = strawberry.field(description="Why it was not queued.")
