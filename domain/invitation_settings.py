"""The invitation settings, scoped like Magento's configuration: default → website → store view.

Each setting is a ConfigValue row at path "invitations/<name>"; a store view inherits what it does
not set from its website, the website from the default scope, the default scope from BUILT_IN.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

from tortoise.expressions import Q

from models.config_values import ConfigValue
from models.store import StoreView

PREFIX = "invitations/"
BUILT_IN_TEMPLATE = "invitation_default"


class ScopeType(StrEnum):
    DEFAULT = "default"
    WEBSITE = "website"
    STORE_VIEW = "store_view"


class ReferredCustomerGroup(StrEnum):
    SAME_AS_INVITER = "SAME_AS_INVITER"
    DEFAULT_GROUP = "DEFAULT_GROUP"


class RegistrationMode(StrEnum):
    AVAILABLE_TO_ALL = "AVAILABLE_TO_ALL"
    BY_INVITATION_ONLY = "BY_INVITATION_ONLY"


class EmailIdentity(StrEnum):
    GENERAL = "GENERAL"
    SALES = "SALES"
    SUPPORT = "SUPPORT"
    CUSTOM1 = "CUSTOM1"
    CUSTOM2 = "CUSTOM2"


@dataclass(frozen=True, slots=True)
class Scope:
    type: ScopeType
    id: int = 0  # 0 at the default scope


DEFAULT_SCOPE = Scope(ScopeType.DEFAULT)


@dataclass(frozen=True, slots=True)
class InvitationSettings:
    """Effective settings at one scope (names are the stored paths without the prefix)."""

    enabled: bool = True
    enabled_on_storefront: bool = True
    referred_customer_group: ReferredCustomerGroup = ReferredCustomerGroup.SAME_AS_INVITER
    registration_mode: RegistrationMode = RegistrationMode.AVAILABLE_TO_ALL
    allow_custom_message: bool = True
    max_invitations_per_send: int = 5
    email_sender_identity: EmailIdentity = EmailIdentity.GENERAL
    email_template: str = BUILT_IN_TEMPLATE
    lifetime_days: int | None = None
    daily_quota_per_customer: int | None = None

    @property
    def storefront_enabled(self) -> bool:
        return self.enabled and self.enabled_on_storefront


BUILT_IN = InvitationSettings()
SETTING_NAMES = tuple(f.name for f in fields(InvitationSettings))
# "Enable Invitations Functionality" exists at the default scope only.
DEFAULT_SCOPE_ONLY = frozenset({"enabled"})
_ENUMS: dict[str, type[StrEnum]] = {
    "referred_customer_group": ReferredCustomerGroup,
    "registration_mode": RegistrationMode,
    "email_sender_identity": EmailIdentity,
}


def _chain(store_view: StoreView | None, website_id: int | None) -> list[Scope]:
    """Scopes from the most general to the most specific."""
    chain = [DEFAULT_SCOPE]
    if website_id is not None:
        chain.append(Scope(ScopeType.WEBSITE, website_id))
    if store_view is not None:
        chain.append(Scope(ScopeType.STORE_VIEW, store_view.id))
    return chain


async def _resolve(chain: list[Scope]) -> InvitationSettings:
    scope_filter = Q()
    for scope in chain:
        scope_filter |= Q(scope=scope.type.value, scope_id=scope.id)
    rows = await ConfigValue.filter(scope_filter, path__startswith=PREFIX)
    rank = {(s.type.value, s.id): i for i, s in enumerate(chain)}
    values: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: rank[(r.scope, r.scope_id)]):
        name = row.path.removeprefix(PREFIX)
        if name not in SETTING_NAMES:
            continue
        if name in DEFAULT_SCOPE_ONLY and row.scope != ScopeType.DEFAULT.value:
            continue
        values[name] = _ENUMS[name](str(row.value)) if name in _ENUMS else row.value
    return replace(BUILT_IN, **values)


async def for_store_view(store_view: StoreView) -> InvitationSettings:
    """What applies to a store view: its own values, else its website's, else the default ones."""
    return await _resolve(_chain(store_view, store_view.website_id))


async def at_scope(scope: Scope) -> InvitationSettings:
    """The effective values seen at a scope (a website scope ignores store-view values)."""
    if scope.type is ScopeType.DEFAULT:
        return await _resolve(_chain(None, None))
    if scope.type is ScopeType.WEBSITE:
        return await _resolve(_chain(None, scope.id))
    store_view = await StoreView.get(id=scope.id)
    return await for_store_view(store_view)


async def stored_at(scope: Scope) -> dict[str, Any]:
    """The settings set at exactly this scope, by name (None: an explicit null)."""
    rows = await ConfigValue.filter(
        scope=scope.type.value, scope_id=scope.id, path__startswith=PREFIX
    )
    stored = {row.path.removeprefix(PREFIX): row.value for row in rows}
    return {name: stored[name] for name in SETTING_NAMES if name in stored}


async def write(scope: Scope, values: dict[str, Any]) -> None:
    """Store the given values at a scope (validated by the caller); None is an explicit null."""
    rows = []
    for name, value in values.items():
        assert name in SETTING_NAMES, name
        stored = value.value if isinstance(value, StrEnum) else value
        row = ConfigValue(scope=scope.type.value, scope_id=scope.id, path=PREFIX + name)
        # Tortoise's JSONField decodes a str given to the constructor, then refuses to save the
        # decoded str: give the instance the JSON text itself, which is stored as it is.
        row.value = json.dumps(stored)
        rows.append(row)
    if rows:
        await ConfigValue.bulk_create(
            rows, on_conflict=["scope", "scope_id", "path"], update_fields=["value"]
        )
