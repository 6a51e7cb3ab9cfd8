"""Invitations, their status history and the referrals they create.

The invitation row is also the mailer's outbox: the delivery columns (state, attempts, next
attempt, lease, Message-ID) belong to the send that is under way.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.accounts import AdminUser, Customer
from models.fields import DatetimeField
from models.store import CustomerGroup, StoreView, Website


class InvitationStatus(StrEnum):
    NOT_SENT = "NOT_SENT"
    SENT = "SENT"
    ACCEPTED = "ACCEPTED"
    CANCELED = "CANCELED"
    # An open invitation whose expires_at has passed reads as EXPIRED; the status is stored as
    # EXPIRED only once something acts on the expiry (so the admin may invite the address again).
    EXPIRED = "EXPIRED"


OPEN_STATUSES = (InvitationStatus.NOT_SENT, InvitationStatus.SENT)


class DeliveryState(StrEnum):
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"


SYSTEM_ACTOR = "system"


class Invitation(Model):
    """One invitation to one address, and the outbox row of its e-mail."""

    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=320)
    email_key = fields.CharField(max_length=320)
    message = fields.TextField(null=True)
    status = fields.CharEnumField(
        InvitationStatus, max_length=16, default=InvitationStatus.NOT_SENT
    )
    created_at = DatetimeField()
    updated_at = DatetimeField()
    sent_at = DatetimeField(null=True)
    accepted_at = DatetimeField(null=True)
    expires_at = DatetimeField(null=True)

    store_view: fields.ForeignKeyRelation[StoreView] = fields.ForeignKeyField(
        "models.StoreView", related_name=False, on_delete=fields.RESTRICT
    )
    store_view_id: int
    # Denormalised from the store view: the grid filters and sorts on it.
    website: fields.ForeignKeyRelation[Website] = fields.ForeignKeyField(
        "models.Website", related_name=False, on_delete=fields.RESTRICT
    )
    website_id: int
    invitee_group: fields.ForeignKeyNullableRelation[CustomerGroup] = fields.ForeignKeyField(
        "models.CustomerGroup", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    invitee_group_id: int | None
    inviter: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    inviter_id: int | None
    created_by_admin: fields.ForeignKeyNullableRelation[AdminUser] = fields.ForeignKeyField(
        "models.AdminUser", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    created_by_admin_id: int | None
    invitee: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    invitee_id: int | None

    # The code in the link is derived from this nonce with the server secret (see models.codes):
    # the table alone does not reveal it, and every retry rebuilds the same link.
    code_nonce = fields.CharField(max_length=32, unique=True)

    delivery_state = fields.CharEnumField(
        DeliveryState, max_length=16, default=DeliveryState.QUEUED
    )
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)
    next_attempt_at = DatetimeField(null=True)
    lease_id = fields.CharField(max_length=36, null=True)
    lease_expires_at = DatetimeField(null=True)
    message_id = fields.CharField(max_length=255, null=True)
    # Counts sends (the first and each admin resend); retries of one send share its Message-ID.
    send_number = fields.IntField(default=1)
    # The W3C traceparent of the request that queued this send (domain/tracing.py), which the
    # mailer's spans continue; NULL while tracing is off.
    traceparent = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "invitation"
        unique_together = (("inviter_id", "email_key"),)
        indexes = (
            ("email_key", "website_id"),
            ("created_at", "id"),
            ("sent_at", "id"),
            ("accepted_at", "id"),
            ("status", "id"),
            ("email", "id"),
            ("website_id", "id"),
            ("store_view_id", "id"),
            ("invitee_group_id", "id"),
            ("invitee_id", "id"),
            ("created_by_admin_id", "id"),
            ("delivery_state", "next_attempt_at"),
            ("status", "expires_at"),
        )


class InvitationStatusChange(Model):
    """One change of an invitation's status, with its time and actor."""

    id = fields.IntField(primary_key=True)
    invitation: fields.ForeignKeyRelation[Invitation] = fields.ForeignKeyField(
        "models.Invitation", related_name="history", on_delete=fields.CASCADE
    )
    invitation_id: int
    status = fields.CharEnumField(InvitationStatus, max_length=16)
    at = DatetimeField()
    # "customer:<id>", "admin:<username>" or "system"
    actor = fields.CharField(max_length=128)

    class Meta:
        table = "invitation_status_change"
        indexes = (("invitation_id", "at"),)


class Referral(Model):
    """The inviter → invitee track left by an accepted invitation."""

    id = fields.IntField(primary_key=True)
    inviter: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    inviter_id: int | None
    invitee: fields.OneToOneRelation[Customer] = fields.OneToOneField(
        "models.Customer", related_name=False, on_delete=fields.CASCADE
    )
    invitee_id: int
    invitation: fields.OneToOneRelation[Invitation] = fields.OneToOneField(
        "models.Invitation", related_name=False, on_delete=fields.CASCADE
    )
    invitation_id: int
    created_at = DatetimeField()

    class Meta:
        table = "referral"
