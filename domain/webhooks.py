"""Webhook endpoints and their events (SPEC §13, docs/contract/WEBHOOKS.md).

- Endpoints are managed by admins (permission WEBHOOKS). A new endpoint gets a secret shown once;
  a rotation makes a new one and keeps the old one signing beside it for `ROTATION_OVERLAP`.
- `record` writes one delivery row per subscribed, enabled endpoint for an event, with its body
  fixed then. Callers call it inside the transaction of the change it reports, so the event
  commits or rolls back with the change (an outbox): a crash between the change and the POST
  loses nothing. The workers deliver the rows (mailer/webhooks.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from domain import webhook_secrets, webhook_urls
from domain.clock import utcnow
from domain.errors import InvalidInput, InvalidStatus, NotFound
from domain.ids import parse_id
from domain.pagination import Ordering, Page, fetch_ordered_page
from models.invitation import Invitation
from models.webhooks import (
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
    WebhookEventType,
)

ROTATION_OVERLAP = timedelta(hours=24)
MAX_DESCRIPTION = 255


@dataclass(frozen=True, slots=True)
class Keys:
    """What endpoint management needs from the settings."""

    secret_key: str
    allow_private: bool


@dataclass(frozen=True, slots=True)
class Created:
    endpoint: WebhookEndpoint
    secret: str


def _events(events: Sequence[WebhookEventType]) -> list[str]:
    if not events:
        raise InvalidInput("Subscribe to at least one event.", field=("events",))
    return sorted({WebhookEventType(event).value for event in events})


def _description(description: str | None) -> str | None:
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"A description has at most {MAX_DESCRIPTION} characters.", field=("description",)
        )
    return description or None


async def create(
    *,
    url: str,
    events: Sequence[WebhookEventType],
    description: str | None,
    keys: Keys,
) -> Created:
    """A new enabled endpoint and its secret (returned once, stored encrypted)."""
    checked = await webhook_urls.check(url, allow_private=keys.allow_private)
    subscribed, described = _events(events), _description(description)
    secret = webhook_secrets.new_secret()
    now = utcnow()
    endpoint = await WebhookEndpoint.create(
        url=checked,
        events=subscribed,
        description=described,
        secret_encrypted=webhook_secrets.encrypt(secret, secret_key=keys.secret_key),
        created_at=now,
        updated_at=now,
    )
    return Created(endpoint, secret)


async def _get(raw_id: str) -> WebhookEndpoint:
    found = await WebhookEndpoint.get_or_none(id=parse_id(raw_id, field=("id",)))
    if found is None:
        raise NotFound("No such webhook endpoint.", field=("id",))
    return found


async def update(
    *,
    raw_id: str,
    url: str | None,
    events: Sequence[WebhookEventType] | None,
    enabled: bool | None,
    description: str | None,
    keys: Keys,
) -> WebhookEndpoint:
    """Change what is given; enabling again clears the workers' reason and failure streak."""
    endpoint = await _get(raw_id)
    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = await webhook_urls.check(url, allow_private=keys.allow_private)
    if events is not None:
        changes["events"] = _events(events)
    if description is not None:
        changes["description"] = _description(description)
    if enabled is not None:
        changes["enabled"] = enabled
        if enabled:
            changes.update(disabled_reason=None, failing_since=None)
    if changes:
        changes["updated_at"] = utcnow()
        await WebhookEndpoint.filter(id=endpoint.id).update(**changes)
        await endpoint.refresh_from_db()
    return endpoint


async def delete(*, raw_id: str) -> WebhookEndpoint:
    """Remove the endpoint and its deliveries (pending ones are never sent)."""
    endpoint = await _get(raw_id)
    await endpoint.delete()
    return endpoint


async def rotate_secret(*, raw_id: str, keys: Keys) -> str:
    """A new secret; the current one keeps signing beside it for ROTATION_OVERLAP."""
    endpoint = await _get(raw_id)
    secret = webhook_secrets.new_secret()
    now = utcnow()
    await WebhookEndpoint.filter(id=endpoint.id).update(
        secret_encrypted=webhook_secrets.encrypt(secret, secret_key=keys.secret_key),
        previous_secret_encrypted=endpoint.secret_encrypted,
        previous_secret_expires_at=now + ROTATION_OVERLAP,
        updated_at=now,
    )
    return secret


def signing_secrets(endpoint: WebhookEndpoint, *, secret_key: str, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one during
    a rotation's overlap."""
    found = [webhook_secrets.decrypt(endpoint.secret_encrypted, secret_key=secret_key)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires is not None and expires > now:
        found.append(
            webhook_secrets.decrypt(endpoint.previous_secret_encrypted, secret_key=secret_key)
        )
    return found


async def endpoints() -> list[WebhookEndpoint]:
    return await WebhookEndpoint.all().order_by("id")


async def deliveries(
    endpoint: WebhookEndpoint, *, first: int, after: int | None
) -> Page[WebhookDelivery]:
    """An endpoint's deliveries, newest first; `after` is the id of the last one seen."""
    return await fetch_ordered_page(
        WebhookDelivery.filter(endpoint_id=endpoint.id),
        ordering=Ordering("id", descending=True, nullable=False),
        first=first,
        after=(after, after) if after is not None else None,
    )


async def redeliver(*, raw_id: str) -> WebhookDelivery:
    """A DELIVERED or FAILED delivery sent again soon, with the same webhook-id and a fresh
    retry budget."""
    row_id = parse_id(raw_id, field=("id",))
    settled = (WebhookDeliveryState.DELIVERED, WebhookDeliveryState.FAILED)
    changed = await WebhookDelivery.filter(id=row_id, state__in=settled).update(
        state=WebhookDeliveryState.PENDING,
        attempts=0,
        next_attempt_at=None,
        lease_id=None,
        lease_expires_at=None,
    )
    if not changed:
        if await WebhookDelivery.exists(id=row_id):
            raise InvalidStatus("This delivery is still pending.", field=("id",))
        raise NotFound("No such webhook delivery.", field=("id",))
    return await WebhookDelivery.get(id=row_id)


# ---------------------------------------------------------------- events


def _at(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _id(value: int | None) -> str | None:
    return str(value) if value is not None else None


def body(event: WebhookEventType, invitation: dict[str, Any], *, at: datetime) -> str:
    """The JSON body of WEBHOOKS.md for an invitation read by `record`."""
    return orjson.dumps(
        {
            "type": event.value,
            "timestamp": at.isoformat(),
            "data": {
                "invitation": {
                    "id": str(invitation["id"]),
                    "email": invitation["email"],
                    "status": str(invitation["status"]),
                    "storeView": invitation["store_view__code"],
                    "website": invitation["website__code"],
                    "inviterCustomerId": _id(invitation["inviter_id"]),
                    "inviteeCustomerId": _id(invitation["invitee_id"]),
                    "createdAt": _at(invitation["created_at"]),
                    "sentAt": _at(invitation["sent_at"]),
                    "acceptedAt": _at(invitation["accepted_at"]),
                    "expiresAt": _at(invitation["expires_at"]),
                }
            },
        }
    ).decode("utf-8")


_BODY_FIELDS = (
    "id",
    "email",
    "status",
    "store_view__code",
    "website__code",
    "inviter_id",
    "invitee_id",
    "created_at",
    "sent_at",
    "accepted_at",
    "expires_at",
)


async def record(event: WebhookEventType, invitation_ids: Iterable[int]) -> int:
    """One delivery per subscribed, enabled endpoint and invitation, bodies as the invitations
    read now; how many rows were written. Call it inside the change's transaction (after the
    change, so the body shows it): the ORM's statements here join that transaction."""
    ids = sorted(set(invitation_ids))
    if not ids:
        return 0
    subscribed = [
        endpoint
        for endpoint in await WebhookEndpoint.filter(enabled=True).only("id", "events")
        if event.value in endpoint.events
    ]
    if not subscribed:
        return 0
    rows = await Invitation.filter(id__in=ids).values(*_BODY_FIELDS)
    now = utcnow()
    deliveries = [
        WebhookDelivery(
            endpoint_id=endpoint.id,
            webhook_id=f"msg_{uuid.uuid4().hex}",
            event=event,
            body=body(event, row, at=now),
            created_at=now,
        )
        for row in rows
        for endpoint in subscribed
    ]
    await WebhookDelivery.bulk_create(deliveries)
    return len(deliveries)
