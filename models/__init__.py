"""Tortoise models and the domain rules that guard them."""

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
from models.store import CustomerGroup, EmailTemplate, StoreView, Website

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
    "Permission",
    "ProviderAccount",
    "Referral",
    "ServiceKey",
    "StoreView",
    "TokenKind",
    "Website",
]
