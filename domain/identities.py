"""Store e-mail identities: the name and address that mail of a store view is sent from.

Like Magento's "Store Email Addresses", each identity is a pair of ConfigValue rows at
"identity/<identity>/name" and "identity/<identity>/email", scoped default → website → store view.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q

from domain.invitation_settings import EmailIdentity
from models.config_values import ConfigValue
from models.store import StoreView

PREFIX = "identity/"


@dataclass(frozen=True, slots=True)
class Sender:
    """A display name and an address to send from."""

    name: str
    email: str


# Magento's defaults for a fresh installation.
BUILT_IN: dict[EmailIdentity, Sender] = {
    EmailIdentity.GENERAL: Sender("Owner", "owner@example.com"),
    EmailIdentity.SALES: Sender("Sales", "sales@example.com"),
    EmailIdentity.SUPPORT: Sender("CustomerSupport", "support@example.com"),
    EmailIdentity.CUSTOM1: Sender("Custom 1", "custom1@example.com"),
    EmailIdentity.CUSTOM2: Sender("Custom 2", "custom2@example.com"),
}


def path_of(identity: EmailIdentity, part: str) -> str:
    """The ConfigValue path of one part ("name" or "email") of an identity."""
    return f"{PREFIX}{identity.value.lower()}/{part}"


async def sender_for(store_view: StoreView, identity: EmailIdentity) -> Sender:
    """The identity as configured for this store view, else its website, else the default."""
    chain = [("default", 0), ("website", store_view.website_id), ("store_view", store_view.id)]
    scope_filter = Q()
    for scope, scope_id in chain:
        scope_filter |= Q(scope=scope, scope_id=scope_id)
    name_path, email_path = path_of(identity, "name"), path_of(identity, "email")
    rows = await ConfigValue.filter(scope_filter, path__in=[name_path, email_path])
    rank = {scope: i for i, scope in enumerate(chain)}
    values: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: rank[(r.scope, r.scope_id)]):
        if isinstance(row.value, str) and row.value.strip():
            values[row.path] = row.value.strip()
    default = BUILT_IN[identity]
    return Sender(values.get(name_path, default.name), values.get(email_path, default.email))
