"""Customers, admin users and the access tokens they sign in with."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.fields import DatetimeField
from models.store import CustomerGroup, Website


class Permission(StrEnum):
    INVITATIONS = "INVITATIONS"
    INVITATION_REPORTS = "INVITATION_REPORTS"
    INVITATION_SETTINGS = "INVITATION_SETTINGS"
    STORES = "STORES"
    WEBHOOKS = "WEBHOOKS"


class TokenKind(StrEnum):
    CUSTOMER = "customer"
    ADMIN = "admin"


class Customer(Model):
    """A storefront customer: the e-mail is unique per website, compared case-insensitively."""

    id = fields.IntField(primary_key=True)
    website: fields.ForeignKeyRelation[Website] = fields.ForeignKeyField(
        "models.Website", related_name=False, on_delete=fields.RESTRICT
    )
    website_id: int
    group: fields.ForeignKeyRelation[CustomerGroup] = fields.ForeignKeyField(
        "models.CustomerGroup", related_name=False, on_delete=fields.RESTRICT
    )
    group_id: int
    email = fields.CharField(max_length=320)
    # Lower-cased e-mail: what uniqueness and look-ups compare.
    email_key = fields.CharField(max_length=320)
    firstname = fields.CharField(max_length=255)
    lastname = fields.CharField(max_length=255)
    password_hash = fields.CharField(max_length=255)
    created_at = DatetimeField()
    failed_sign_ins = fields.IntField(default=0)
    locked_until = DatetimeField(null=True)

    class Meta:
        table = "customer"
        unique_together = (("website_id", "email_key"),)
        # The admin grid sorts invitations by their invitee's e-mail (migration 0003).
        indexes = (("email",),)


class AdminUser(Model):
    """An admin user with a set of permissions, created from the command line."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    permissions: list[str] = fields.JSONField(default=list)
    is_active = fields.BooleanField(default=True)
    created_at = DatetimeField()
    failed_sign_ins = fields.IntField(default=0)
    locked_until = DatetimeField(null=True)

    class Meta:
        table = "admin_user"


class AccessToken(Model):
    """A bearer token: only its SHA-256 is stored, so the table alone signs nobody in."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    kind = fields.CharEnumField(TokenKind, max_length=16)
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, null=True, on_delete=fields.CASCADE
    )
    customer_id: int | None
    admin: fields.ForeignKeyNullableRelation[AdminUser] = fields.ForeignKeyField(
        "models.AdminUser", related_name=False, null=True, on_delete=fields.CASCADE
    )
    admin_id: int | None
    created_at = DatetimeField()
    expires_at = DatetimeField(db_index=True)
    revoked_at = DatetimeField(null=True)

    class Meta:
        table = "access_token"


class ProviderAccount(Model):
    """A principal of the store's identity provider: its (issuer, sub) and who it is here."""

    id = fields.IntField(primary_key=True)
    issuer = fields.CharField(max_length=255)
    subject = fields.CharField(max_length=255)
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, null=True, on_delete=fields.CASCADE
    )
    customer_id: int | None
    admin: fields.ForeignKeyNullableRelation[AdminUser] = fields.ForeignKeyField(
        "models.AdminUser", related_name=False, null=True, on_delete=fields.CASCADE
    )
    admin_id: int | None
    created_at = DatetimeField()

    class Meta:
        table = "provider_account"
        unique_together = (("issuer", "subject"),)


class ServiceKey(Model):
    """A back-office service's API key (`inv_sk_…`): only its SHA-256 is stored. It signs in as
    its own admin user (`service:<name>`, no password), whose permissions are the key's."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    key_hash = fields.CharField(max_length=64, unique=True)
    admin: fields.ForeignKeyRelation[AdminUser] = fields.ForeignKeyField(
        "models.AdminUser", related_name=False, on_delete=fields.CASCADE
    )
    admin_id: int
    created_at = DatetimeField()
    # Recorded at most once a minute per key, not on every request.
    last_used_at = DatetimeField(null=True)
    revoked_at = DatetimeField(null=True)

    class Meta:
        table = "service_key"
