"""The Tortoise tables (the rules that guard them live in domain/)."""

from models.accounts import (
    AccessToken,
    AdminUser,
    Customer,
    Permission,
    ProviderAccount,
    ServiceKey,
    TokenKind,
)
from models.bulk import BulkOperation, BulkOperationItem
from models.config_values import ConfigValue
from models.invitation import (
    DeliveryState,
    Invitation,
    InvitationStatus,
    InvitationStatusChange,
    Referral,
)
from models.invitation_counts import InvitationCount
from models.leases import Lease, RateLimitCounter
from models.persisted_queries import PersistedQuery
from models.store import CustomerGroup, EmailTemplate, StoreView, Website
from models.webhooks import WebhookDelivery, WebhookEndpoint

__all__ = [
    "AccessToken",
    "AdminUser",
    "BulkOperation",
    "BulkOperationItem",
    "ConfigValue",
    "Customer",
    "CustomerGroup",
    "DeliveryState",
    "EmailTemplate",
    "Invitation",
    "InvitationCount",
    "InvitationStatus",
    "InvitationStatusChange",
    "Lease",
    "Permission",
    "PersistedQuery",
    "ProviderAccount",
    "RateLimitCounter",
    "Referral",
    "ServiceKey",
    "StoreView",
    "TokenKind",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Website",
]
