"""Store e-mail identities: the name and address that mail of a store view is sent from.

Like Magento's "Store Email Addresses", each identity is a pair of ConfigValue rows at
"identity/<identity>/name" and "identity/<identity>/email", scoped default → website → store view.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.errors import DomainError, DuplicateInput, InvalidInput, Refused
from domain.invitation_settings import EmailIdentity, Scope, ScopeType
from domain.validation import has_control_characters, normalize_email
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
    return (await _resolve(chain))[identity]


async def senders_at(scope: Scope) -> dict[EmailIdentity, Sender]:
    """Every identity as seen at a scope (a website scope ignores store-view values)."""
    chain = [("default", 0)]
    if scope.type is ScopeType.WEBSITE:
        chain.append(("website", scope.id))
    elif scope.type is ScopeType.STORE_VIEW:
        store_view = await StoreView.get(id=scope.id)
        chain += [("website", store_view.website_id), ("store_view", store_view.id)]
    return await _resolve(chain)


async def _resolve(chain: list[tuple[str, int]]) -> dict[EmailIdentity, Sender]:
    scope_filter = Q()
    for scope, scope_id in chain:
        scope_filter |= Q(scope=scope, scope_id=scope_id)
    rows = await ConfigValue.filter(scope_filter, path__startswith=PREFIX)
    rank = {scope: i for i, scope in enumerate(chain)}
    values: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: rank[(r.scope, r.scope_id)]):
        if isinstance(row.value, str) and row.value.strip():
            values[row.path] = row.value.strip()
    return {
        identity: Sender(
            values.get(path_of(identity, "name"), default.name),
            values.get(path_of(identity, "email"), default.email),
        )
        for identity, default in BUILT_IN.items()
    }


async def stored_at(scope: Scope) -> dict[EmailIdentity, Sender]:
    """The identities set at exactly this scope (what a config export writes)."""
    rows = await ConfigValue.filter(
        scope=scope.type.value, scope_id=scope.id, path__startswith=PREFIX
    )
    values = {row.path: row.value for row in rows if isinstance(row.value, str)}
    stored = {}
    for identity in EmailIdentity:
        name, email = values.get(path_of(identity, "name")), values.get(path_of(identity, "email"))
        if name is not None and email is not None:
            stored[identity] = Sender(name, email)
    return stored


def check_senders(
    senders: Sequence[tuple[EmailIdentity, str, str]],
) -> tuple[list[Sender], list[DomainError]]:
    """The cleaned senders (name trimmed, address normalised) and every problem, at its index."""
    errors: list[DomainError] = []
    cleaned: list[Sender] = []
    seen: set[EmailIdentity] = set()
    for index, (identity, name, email) in enumerate(senders):
        if identity in seen:
            errors.append(
                DuplicateInput("This identity appears more than once.", field=(index, "identity"))
            )
        seen.add(identity)
        if not name.strip() or len(name) > 255 or has_control_characters(name):
            errors.append(
                InvalidInput(
                    "A sender name is 1 to 255 printable characters.", field=(index, "name")
                )
            )
        try:
            address = normalize_email(email)
        except DomainError as error:
            errors.append(error.at(index, "email"))
            address = email
        cleaned.append(Sender(name.strip(), address))
    return cleaned, errors


async def write_senders(scope: Scope, senders: dict[EmailIdentity, Sender]) -> None:
    """Store the identities at a scope (already checked)."""
    rows = []
    for identity, sender in senders.items():
        for part, value in (("name", sender.name), ("email", sender.email)):
            row = ConfigValue(
                scope=scope.type.value, scope_id=scope.id, path=path_of(identity, part)
            )
            row.value = json.dumps(value)  # see invitation_settings.write
            rows.append(row)
    if rows:
        await ConfigValue.bulk_create(
            rows, on_conflict=["scope", "scope_id", "path"], update_fields=["value"]
        )


async def update_senders(
    scope: Scope, senders: Sequence[tuple[EmailIdentity, str, str]]
) -> dict[EmailIdentity, Sender]:
    """Set the given identities at a scope, all or nothing; the identities as seen there after."""
    cleaned, errors = check_senders(senders)
    if errors:
        raise Refused(errors)
    async with in_transaction():
        await write_senders(scope, {s[0]: c for s, c in zip(senders, cleaned, strict=True)})
    return await senders_at(scope)
