"""Webhook endpoints and their events (SPEC §13, docs/contract/WEBHOOKS.md).

- Endpoints are managed by admins (permission WEBHOOKS). A new endpoint gets a secret shown once;
  a rotation makes a new one and keeps the old one signing beside it for `ROTATION_OVERLAP`.
- `record` writes one delivery row per subscribed, enabled endpoint for an event, with its body
  fixed then. Callers call it inside the transaction of the change it reports, so the event
  commits or rolls back with the change (an outbox): a crash between the change and the POST
  loses nothing. The workers deliver the rows (mailer/webhooks.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from domain import sql, webhook_secrets, webhook_urls
from domain.clock import utcnow
from domain.errors import InvalidInput, InvalidStatus, NotFound
from domain.ids import parse_id
from domain.pagination import Ordering, Page, fetch_ordered_page
from models.invitation import InvitationStatus
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

# The status whose history row an event goes with (a reopened invitation's NOT_SENT has none).
STATUS_EVENTS = {
    InvitationStatus.SENT: WebhookEventType.INVITATION_SENT,
    InvitationStatus.ACCEPTED: WebhookEventType.INVITATION_ACCEPTED,
    InvitationStatus.CANCELED: WebhookEventType.INVITATION_CANCELED,
    InvitationStatus.EXPIRED: WebhookEventType.INVITATION_EXPIRED,
}


def _iso(postgres: bool, column: str) -> str:
    """A stored datetime as the body spells it: ISO-8601 with microseconds and +00:00."""
    if postgres:
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
    # Tortoise stores SQLite datetimes as "YYYY-MM-DD HH:MM:SS.ffffff+00:00".
    return f"replace({column}, ' ', 'T')"


def insert_sql(postgres: bool, *, event: str, source: str, where: str) -> str:
    """One INSERT … SELECT of a delivery per subscribed, enabled endpoint and invitation row of
    `source` (aliased `i`, with the invitation's columns) that `where` picks, its body built by
    the database from the rows as they read inside the caller's transaction. `event` is the
    event type's SQL: a parameter, or a literal."""
    build = "json_build_object" if postgres else "json_object"
    invitation = ", ".join(
        [
            "'id', CAST(i.id AS TEXT)",
            "'email', i.email",
            "'status', i.status",
            "'storeView', sv.code",
            "'website', w.code",
            "'inviterCustomerId', CAST(i.inviter_id AS TEXT)",
            "'inviteeCustomerId', CAST(i.invitee_id AS TEXT)",
            f"'createdAt', {_iso(postgres, 'i.created_at')}",
            f"'sentAt', {_iso(postgres, 'i.sent_at')}",
            f"'acceptedAt', {_iso(postgres, 'i.accepted_at')}",
            f"'expiresAt', {_iso(postgres, 'i.expires_at')}",
        ]
    )
    if postgres:
        now, at = "clock_timestamp()", _iso(True, "clock_timestamp()")
        webhook_id = "'msg_' || replace(gen_random_uuid()::text, '-', '')"
        subscribed = f"e.events::jsonb @> jsonb_build_array({event})"
    else:
        now = "(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000+00:00')"
        at = "(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000+00:00')"
        webhook_id = "'msg_' || lower(hex(randomblob(16)))"
        subscribed = f"EXISTS (SELECT 1 FROM json_each(e.events) WHERE value = {event})"
    body = (
        f"{build}('type', {event}, 'timestamp', {at}, 'data', "
        f"{build}('invitation', {build}({invitation})))"
    )
    # Fixed pieces only: the values are parameters.
    return (
        "INSERT INTO webhook_delivery (endpoint_id, webhook_id, event, body, state, attempts,"
        " created_at)"
        f" SELECT e.id, {webhook_id}, {event}, CAST({body} AS TEXT), 'PENDING', 0, {now}"
        f" FROM {source} JOIN store_view AS sv ON sv.id = i.store_view_id"
        " JOIN website AS w ON w.id = i.website_id CROSS JOIN webhook_endpoint AS e"
        f" WHERE {where} AND e.enabled AND {subscribed} ORDER BY i.id, e.id"
    )


def _record_sql(postgres: bool) -> str:
    """`insert_sql` for the invitations of the given ids. Parameters: the event type, then the
    ids (PostgreSQL: an array; SQLite: a JSON array)."""
    if postgres:
        return insert_sql(
            True, event="$1::text", source="invitation AS i", where="i.id = ANY($2::bigint[])"
        )
    return insert_sql(
        False,
        event="?1",
        source="invitation AS i",
        where="i.id IN (SELECT value FROM json_each(?2))",
    )


RECORD_SQLITE = _record_sql(postgres=False)
RECORD_POSTGRES = _record_sql(postgres=True)


def record_parameters(
    event: WebhookEventType, invitation_ids: Iterable[int], *, postgres: bool
) -> list[Any]:
    ids = sorted(set(invitation_ids))
    return [event.value, ids if postgres else orjson.dumps(ids).decode("ascii")]


async def record(event: WebhookEventType, invitation_ids: Iterable[int]) -> None:
    """The event's deliveries for these invitations (see _record_sql). Call it inside the
    transaction of the change it reports, after the change, so the body shows it."""
    ids = list(invitation_ids)
    if not ids:
        return
    db = sql.client()
    postgres = sql.is_postgres(db)
    await db.execute_query(
        RECORD_POSTGRES if postgres else RECORD_SQLITE,
        record_parameters(event, ids, postgres=postgres),
    )


async def status_changed(status: InvitationStatus, invitation_ids: Iterable[int]) -> None:
    """The event of a status change whose history row was just written, if it has one."""
    event = STATUS_EVENTS.get(status)
    if event is not None:
        await record(event, invitation_ids)
