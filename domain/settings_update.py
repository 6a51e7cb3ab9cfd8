"""Changing the scoped invitation settings from the admin: check a partial update, then write it.

An update names only the settings it changes. A null is stored as an explicit null: for the two
nullable settings it means "no lifetime" / "no quota" at that scope (overriding an inherited
value); the other settings cannot be null. Every problem is reported at once, with its path into
the operation's arguments, and nothing is saved when there is any.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from domain import email_templates
from domain.errors import DomainError, InvalidInput, NotFound
from domain.ids import parse_id
from domain.invitation_settings import (
    DEFAULT_SCOPE,
    DEFAULT_SCOPE_ONLY,
    SETTING_NAMES,
    InvitationSettings,
    Scope,
    ScopeType,
    at_scope,
    write,
)
from models.store import StoreView, Website

# Inclusive bounds of the numeric settings. The upper bounds only keep values sane: a lifetime
# beyond ten years is a typo, and would push expiry dates towards the end of the calendar.
BOUNDS: dict[str, tuple[int, int]] = {
    "max_invitations_per_send": (1, 1000),
    "lifetime_days": (1, 3650),
    "daily_quota_per_customer": (1, 100_000),
}
NULLABLE = frozenset({"lifetime_days", "daily_quota_per_customer"})
NULL_MEANS = {"lifetime_days": "no lifetime", "daily_quota_per_customer": "no quota"}


async def find_scope(scope_type: ScopeType, raw_id: str | None) -> Scope:
    """The scope named by a type and an id; the id is ignored at the default scope."""
    if scope_type is ScopeType.DEFAULT:
        return DEFAULT_SCOPE
    field = ("scope", "id")
    label = "website" if scope_type is ScopeType.WEBSITE else "store view"
    if raw_id is None:
        raise InvalidInput(f"A {label} scope needs the id of the {label}.", field=field)
    scope_id = parse_id(raw_id, field=field)
    model = Website if scope_type is ScopeType.WEBSITE else StoreView
    if not await model.exists(id=scope_id):
        raise NotFound(f"There is no {label} with id {scope_id}.", field=field)
    return Scope(scope_type, scope_id)


def check_changes(
    scope_type: ScopeType, changes: Mapping[str, Any], *, templates: set[str]
) -> list[DomainError]:
    """Every problem of a partial update at a scope of this type (empty when it is fine)."""
    errors: list[DomainError] = []
    for name, value in changes.items():
        assert name in SETTING_NAMES, name
        field = (name,)
        if name in DEFAULT_SCOPE_ONLY and scope_type is not ScopeType.DEFAULT:
            errors.append(
                InvalidInput("This setting can only be set at the DEFAULT scope.", field=field)
            )
        elif value is None:
            if name not in NULLABLE:
                errors.append(InvalidInput("This setting cannot be null.", field=field))
        elif name in BOUNDS:
            low, high = BOUNDS[name]
            if not low <= value <= high:
                extra = f", or null for {NULL_MEANS[name]}" if name in NULLABLE else ""
                message = f"The value must be between {low} and {high}{extra}."
                errors.append(InvalidInput(message, field=field))
        elif name == "email_template" and value not in templates:
            known = ", ".join(sorted(templates))
            errors.append(
                InvalidInput(f"Unknown e-mail template; the known ones are: {known}.", field=field)
            )
    return errors


@dataclass(frozen=True, slots=True)
class SettingsUpdate:
    """The outcome of an update: the effective settings at the scope, or why nothing was saved."""

    settings: InvitationSettings | None
    errors: tuple[DomainError, ...]


async def update(
    *, scope_type: ScopeType, scope_id: str | None, changes: Mapping[str, Any]
) -> SettingsUpdate:
    """Write `changes` (setting name → value) at a scope, all or nothing."""
    errors: list[DomainError] = []
    scope: Scope | None = None
    try:
        scope = await find_scope(scope_type, scope_id)
    except DomainError as error:
        errors.append(error)
    errors += check_changes(scope_type, changes, templates=await email_templates.known_codes())
    if errors or scope is None:
        return SettingsUpdate(settings=None, errors=tuple(errors))
    async with in_transaction():
        await write(scope, dict(changes))
    return SettingsUpdate(settings=await at_scope(scope), errors=())
