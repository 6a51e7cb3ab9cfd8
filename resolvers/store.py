"""The store structure: websites, store views, customer groups, and their setup (STORES)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain import identities, settings_update, stores
from domain.errors import DomainError, Refused
from models import store as m
from schema.context import Info
from schema.errors import BadRequest, UserError
from schema.settings import SettingsScope
from schema.store import (
    CreateCustomerGroupInput,
    CreateStoreViewInput,
    CreateWebsiteInput,
    CustomerGroup,
    CustomerGroupPayload,
    EmailSender,
    EmailSenderInput,
    StoreView,
    StoreViewPayload,
    UpdateEmailSendersPayload,
    UpdateStoreViewInput,
    UpdateWebsiteInput,
    Website,
    WebsitePayload,
)

ScopeArgument = Annotated[
    SettingsScope | None,
    strawberry.argument(description="The scope; the DEFAULT scope when omitted."),
]


def _errors(refused: Refused, arguments: dict[str, str] | None = None) -> list[UserError]:
    return [UserError.from_domain(error, arguments=arguments) for error in refused.errors]


async def websites(info: Info) -> list[Website]:
    return [Website.from_model(row) for row in await m.Website.all().order_by("id")]


async def store_views(info: Info) -> list[StoreView]:
    rows = await m.StoreView.all().order_by("sort_order", "id")
    return [StoreView.from_model(row) for row in rows]


async def customer_groups(info: Info) -> list[CustomerGroup]:
    return [CustomerGroup.from_model(row) for row in await m.CustomerGroup.all().order_by("id")]


async def create_website(info: Info, input: CreateWebsiteInput) -> WebsitePayload:
    try:
        row = await stores.create_website(
            code=input.code, name=input.name, default_group_id=input.default_group_id
        )
    except Refused as refused:
        return WebsitePayload(website=None, user_errors=_errors(refused))
    return WebsitePayload(website=Website.from_model(row), user_errors=[])


async def update_website(
    info: Info, id: strawberry.ID, input: UpdateWebsiteInput
) -> WebsitePayload:
    try:
        row = await stores.update_website(
            website_id=id, name=input.name, default_group_id=input.default_group_id
        )
    except Refused as refused:
        return WebsitePayload(website=None, user_errors=_errors(refused, {"website_id": "id"}))
    return WebsitePayload(website=Website.from_model(row), user_errors=[])


async def create_store_view(info: Info, input: CreateStoreViewInput) -> StoreViewPayload:
    try:
        row = await stores.create_store_view(
            code=input.code,
            name=input.name,
            website_id=input.website_id,
            locale=input.locale,
            base_url=input.base_url,
            invitation_url_template=input.invitation_url_template,
            is_default=input.is_default,
            sort_order=input.sort_order,
        )
    except Refused as refused:
        return StoreViewPayload(store_view=None, user_errors=_errors(refused))
    return StoreViewPayload(store_view=StoreView.from_model(row), user_errors=[])


async def update_store_view(
    info: Info, id: strawberry.ID, input: UpdateStoreViewInput
) -> StoreViewPayload:
    try:
        row = await stores.update_store_view(
            store_view_id=id,
            name=input.name,
            locale=input.locale,
            base_url=input.base_url,
            invitation_url_template=input.invitation_url_template,
            is_default=input.is_default,
            sort_order=input.sort_order,
        )
    except Refused as refused:
        errors = _errors(refused, {"store_view_id": "id"})
        return StoreViewPayload(store_view=None, user_errors=errors)
    return StoreViewPayload(store_view=StoreView.from_model(row), user_errors=[])


async def create_customer_group(
    info: Info, input: CreateCustomerGroupInput
) -> CustomerGroupPayload:
    try:
        row = await stores.create_customer_group(code=input.code)
    except Refused as refused:
        return CustomerGroupPayload(customer_group=None, user_errors=_errors(refused))
    return CustomerGroupPayload(customer_group=CustomerGroup.from_model(row), user_errors=[])


async def email_senders(info: Info, scope: ScopeArgument = strawberry.UNSET) -> list[EmailSender]:
    scope_type, scope_id = SettingsScope.unpack(scope)
    try:
        found = await settings_update.find_scope(scope_type, scope_id)
    except DomainError as error:
        raise BadRequest.from_domain(error) from None
    return EmailSender.listed(await identities.senders_at(found))


async def update_email_senders(
    info: Info,
    *,
    scope: ScopeArgument = strawberry.UNSET,
    input: Annotated[
        list[EmailSenderInput], strawberry.argument(description="The identities to set.")
    ],
) -> UpdateEmailSendersPayload:
    scope_type, scope_id = SettingsScope.unpack(scope)
    try:
        found = await settings_update.find_scope(scope_type, scope_id)
        senders = await identities.update_senders(
            found, [(s.identity, s.name, s.email) for s in input]
        )
    except DomainError as error:
        return UpdateEmailSendersPayload(
            senders=[], user_errors=[UserError.from_domain(error, arguments={"scope": "scope"})]
        )
    except Refused as refused:
        return UpdateEmailSendersPayload(senders=[], user_errors=_errors(refused))
    return UpdateEmailSendersPayload(senders=EmailSender.listed(senders), user_errors=[])
