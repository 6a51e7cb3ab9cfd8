"""Webhooks: the endpoints the store's own systems listen at, and one outbox row per event and
endpoint (SPEC §13, docs/contract/WEBHOOKS.md).

An endpoint's signing secret must be usable for signing, so it cannot be hashed: it is stored
encrypted (domain/webhooks.py holds the key, derived from INVITATIONS_SECRET_KEY). During a
rotation the previous secret is kept, encrypted too, until `previous_secret_expires_at`.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.fields import DatetimeField


class WebhookEventType(StrEnum):
    """The `type` of a body; the GraphQL enum names them INVITATION_CREATED, …"""

    INVITATION_CREATED = "invitation.created"
    INVITATION_SENT = "invitation.sent"
    INVITATION_ACCEPTED = "invitation.accepted"
    INVITATION_CANCELED = "invitation.canceled"
    INVITATION_EXPIRED = "invitation.expired"
    INVITATION_DELIVERY_FAILED = "invitation.delivery_failed"


class WebhookDeliveryState(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class WebhookEndpoint(Model):
    """A URL that receives a signed POST for each event it subscribes to."""

    id = fields.IntField(primary_key=True)
    url = fields.CharField(max_length=2048)
    description = fields.CharField(max_length=255, null=True)
    # WebhookEventType values.
    events: list[str] = fields.JSONField(default=list)
    enabled = fields.BooleanField(default=True)
    # Why it was disabled by the workers (410 Gone, five days of failures); NULL otherwise.
    disabled_reason = fields.CharField(max_length=255, null=True)
    # Fernet tokens of the "whsec_…" secrets; never the secret itself.
    secret_encrypted = fields.TextField()
    previous_secret_encrypted = fields.TextField(null=True)
    previous_secret_expires_at = DatetimeField(null=True)
    # The first failure since the last success: five days of it disable the endpoint.
    failing_since = DatetimeField(null=True)
    created_at = DatetimeField()
    updated_at = DatetimeField()

    class Meta:
        table = "webhook_endpoint"


class WebhookDelivery(Model):
    """One event for one endpoint: its frozen body, and where its delivery stands.

    Written in the transaction of the change it reports; the workers claim due rows with a lease
    (lease_id, lease_expires_at) as they claim invitations, and every outcome names the lease.
    """

    id = fields.IntField(primary_key=True)
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name=False, on_delete=fields.CASCADE
    )
    endpoint_id: int
    # The webhook-id header ("msg_…"): the same on every retry and redelivery.
    webhook_id = fields.CharField(max_length=64, unique=True)
    event = fields.CharEnumField(WebhookEventType, max_length=32)
    # The JSON body, as it will be sent (fixed when the event happened).
    body = fields.TextField()
    state = fields.CharEnumField(
        WebhookDeliveryState, max_length=16, default=WebhookDeliveryState.PENDING
    )
    attempts = fields.IntField(default=0)
    last_status_code = fields.IntField(null=True)
    last_error = fields.CharField(max_length=255, null=True)
    next_attempt_at = DatetimeField(null=True)
    lease_id = fields.CharField(max_length=36, null=True)
    lease_expires_at = DatetimeField(null=True)
    created_at = DatetimeField()
    delivered_at = DatetimeField(null=True)

    class Meta:
        table = "webhook_delivery"
        # The workers' claim (state, due time) and an endpoint's deliveries newest first.
        indexes = (("state", "next_attempt_at"), ("endpoint_id", "id"))
