"""GraphQL projections of the scoped invitation settings (admin)."""

from __future__ import annotations

from dataclasses import fields
from enum import Enum
from typing import Any

import strawberry

from domain import invitation_settings as m
from schema.errors import UserError

# The enums are the model's own, so values pass between the API and the domain unchanged.
ReferredCustomerGroup = strawberry.enum(
    m.ReferredCustomerGroup,
    name="ReferredCustomerGroup",
    description="The group a customer registering through an invitation joins.",
)
RegistrationMode = strawberry.enum(
    m.RegistrationMode,
    name="RegistrationMode",
    description="Who may register: everyone, or only people holding an invitation.",
)
EmailIdentity = strawberry.enum(
    m.EmailIdentity,
    name="EmailIdentity",
    description="The store e-mail identity invitation e-mails are sent from.",
)


# Not the model's ScopeType, whose values are the stored (lower-case) ones: the default value
# of SettingsScope.type must read DEFAULT, as in the contract.
@strawberry.enum(description="The level of a setting: default, website or store view.")
class SettingsScopeType(Enum):
    DEFAULT = "DEFAULT"
    WEBSITE = "WEBSITE"
    STORE_VIEW = "STORE_VIEW"


@strawberry.input(description="Where settings are read or written; the default scope if omitted.")
class SettingsScope:
    type: SettingsScopeType = strawberry.field(
        default=SettingsScopeType.DEFAULT, description="DEFAULT, WEBSITE or STORE_VIEW."
    )
    id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="The website or store view id; ignored at the DEFAULT scope.",
    )

    @staticmethod
    def unpack(scope: SettingsScope | None) -> tuple[m.ScopeType, str | None]:
        if scope is None or scope is strawberry.UNSET:
            return m.ScopeType.DEFAULT, None
        return m.ScopeType[scope.type.name], scope.id if isinstance(scope.id, str) else None


@strawberry.type(description="The effective invitation settings at a scope.")
class InvitationSettings:
    enabled: bool = strawberry.field(
        description="Enable Invitations Functionality (set at the default scope only)."
    )
    enabled_on_storefront: bool = strawberry.field(
        description="Customers may send invitations from the storefront."
    )
    referred_customer_group: m.ReferredCustomerGroup = strawberry.field(
        description="The group of customers who register through an invitation."
    )
    registration_mode: m.RegistrationMode = strawberry.field(
        description="Whether registration needs an invitation."
    )
    allow_custom_message: bool = strawberry.field(
        description="Inviters may add their own message to the e-mail."
    )
    max_invitations_per_send: int = strawberry.field(
        description="The most addresses one sendInvitations may name (at least 1)."
    )
    email_sender_identity: m.EmailIdentity = strawberry.field(
        description="The store identity invitation e-mails are sent from."
    )
    email_template: str = strawberry.field(description="Id of the invitation e-mail template.")
    lifetime_days: int | None = strawberry.field(
        description="Days after which an unaccepted invitation expires; null: never."
    )
    daily_quota_per_customer: int | None = strawberry.field(
        description="Invitations a customer may send in any 24 hours; null: no quota."
    )

    @classmethod
    def from_model(cls, settings: m.InvitationSettings) -> InvitationSettings:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(settings)})


@strawberry.input(
    description="The settings to change at a scope: only the fields given are written."
)
class InvitationSettingsInput:
    enabled: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Only at the DEFAULT scope; not null."
    )
    enabled_on_storefront: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Not null."
    )
    referred_customer_group: m.ReferredCustomerGroup | None = strawberry.field(
        default=strawberry.UNSET, description="Not null."
    )
    registration_mode: m.RegistrationMode | None = strawberry.field(
        default=strawberry.UNSET, description="Not null."
    )
    allow_custom_message: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Not null."
    )
    max_invitations_per_send: int | None = strawberry.field(
        default=strawberry.UNSET, description="1 to 1000; not null."
    )
    email_sender_identity: m.EmailIdentity | None = strawberry.field(
        default=strawberry.UNSET, description="Not null."
    )
    email_template: str | None = strawberry.field(
        default=strawberry.UNSET, description="A known template id; not null."
    )
    lifetime_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="1 to 3650, or null: invitations never expire."
    )
    daily_quota_per_customer: int | None = strawberry.field(
        default=strawberry.UNSET, description="1 to 100000, or null: no quota."
    )

    def changes(self) -> dict[str, Any]:
        """The settings given (explicit nulls included), by their model names."""
        given = {f.name: getattr(self, f.name) for f in fields(m.InvitationSettings)}
        return {name: value for name, value in given.items() if value is not strawberry.UNSET}


@strawberry.type(description="Result of updateInvitationSettings.")
class UpdateInvitationSettingsPayload:
    settings: InvitationSettings | None = strawberry.field(
        description="The effective settings at the scope after the change; null when refused."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing was saved, one per problem, at its path in the arguments."
    )
