"""The scoped invitation settings (admin, INVITATION_SETTINGS)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain import invitation_settings, settings_update
from domain.errors import DomainError
from schema.context import Info
from schema.errors import BadRequest, UserError
from schema.settings import (
    InvitationSettings,
    InvitationSettingsInput,
    SettingsScope,
    UpdateInvitationSettingsPayload,
)

ScopeArgument = Annotated[
    SettingsScope | None,
    strawberry.argument(description="The scope; the DEFAULT scope when omitted."),
]


async def invitation_settings_at(
    info: Info, scope: ScopeArgument = strawberry.UNSET
) -> InvitationSettings:
    scope_type, scope_id = SettingsScope.unpack(scope)
    try:
        found = await settings_update.find_scope(scope_type, scope_id)
    except DomainError as error:
        raise BadRequest.from_domain(error) from None
    return InvitationSettings.from_model(await invitation_settings.at_scope(found))


async def update_invitation_settings(
    info: Info,
    *,
    scope: ScopeArgument = strawberry.UNSET,
    input: Annotated[
        InvitationSettingsInput,
        strawberry.argument(description="The settings to write; fields left out are kept."),
    ],
) -> UpdateInvitationSettingsPayload:
    scope_type, scope_id = SettingsScope.unpack(scope)
    outcome = await settings_update.update(
        scope_type=scope_type, scope_id=scope_id, changes=input.changes()
    )
    return UpdateInvitationSettingsPayload(
        settings=InvitationSettings.from_model(outcome.settings) if outcome.settings else None,
        user_errors=[
            UserError.from_domain(error, arguments={"scope": "scope"}) for error in outcome.errors
        ],
    )
