"""GraphQL projections of the store structure, and the inputs and payloads of store setup."""

from __future__ import annotations

import strawberry

from domain import identities

# The model's enum, which schema.settings makes a GraphQL enum (imported for that).
from domain.invitation_settings import EmailIdentity
from models import store as m
from models.accounts import Permission
from schema import settings as _settings  # noqa: F401
from schema.context import Info
from schema.errors import UserError
from schema.permissions import HasPermission


@strawberry.type(description="A customer group.")
class CustomerGroup:
    id: strawberry.ID = strawberry.field(description="Group id.")
    code: str = strawberry.field(description="Group code, e.g. General.")

    @classmethod
    def from_model(cls, row: m.CustomerGroup) -> CustomerGroup:
        return cls(id=strawberry.ID(str(row.id)), code=row.code)


@strawberry.type(description="A website; customers and their addresses belong to one.")
class Website:
    id: strawberry.ID = strawberry.field(description="Website id.")
    code: str = strawberry.field(description="Website code, e.g. base.")
    name: str = strawberry.field(description="Website name.")
    row_id: strawberry.Private[int]
    default_group_id: strawberry.Private[int]

    @strawberry.field(description="The group of customers who register without an invitee group.")
    async def default_group(self, info: Info) -> CustomerGroup:
        return await load_group(info, self.default_group_id)

    @strawberry.field(description="Its store views, in their sort order.")
    async def store_views(self, info: Info) -> list[StoreView]:
        rows = await info.context.loaders.store_views_of_website.load(self.row_id)
        return [StoreView.from_model(row) for row in rows]

    @classmethod
    def from_model(cls, row: m.Website) -> Website:
        return cls(
            id=strawberry.ID(str(row.id)),
            code=row.code,
            name=row.name,
            row_id=row.id,
            default_group_id=row.default_group_id,
        )


@strawberry.type(description="A store view of a website: its language and storefront.")
class StoreView:
    id: strawberry.ID = strawberry.field(description="Store view id.")
    code: str = strawberry.field(description="Code to send in the Store header.")
    name: str = strawberry.field(description="Store view name.")
    locale: str = strawberry.field(
        description="e.g. en_US, sv_SE, zh_CN, de_DE: language of its emails."
    )
    is_default: bool = strawberry.field(
        description="The store view of requests without a Store header."
    )
    base_url: str = strawberry.field(
        description="The storefront's URL, e.g. https://shop.example/sv/."
    )
    sort_order: int = strawberry.field(description="Its place in a store switcher.")
    website_id: strawberry.Private[int]
    url_template: strawberry.Private[str]

    @strawberry.field(description="The website of this store view.")
    async def website(self, info: Info) -> Website:
        return await load_website(info, self.website_id)

    @strawberry.field(
        description="The link in its emails; {base_url} and {code} are replaced (admin: STORES).",
        permission_classes=[HasPermission(Permission.STORES)],
    )
    def invitation_url_template(self) -> str:
        return self.url_template

    @classmethod
    def from_model(cls, row: m.StoreView) -> StoreView:
        return cls(
            id=strawberry.ID(str(row.id)),
            code=row.code,
            name=row.name,
            locale=row.locale,
            is_default=row.is_default,
            base_url=row.base_url,
            sort_order=row.sort_order,
            website_id=row.website_id,
            url_template=row.invitation_url_template,
        )


async def load_website(info: Info, website_id: int) -> Website:
    row = await info.context.loaders.website.load(website_id)
    assert row is not None, "foreign key"
    return Website.from_model(row)


async def load_store_view(info: Info, store_view_id: int) -> StoreView:
    row = await info.context.loaders.store_view.load(store_view_id)
    assert row is not None, "foreign key"
    return StoreView.from_model(row)


async def load_group(info: Info, group_id: int) -> CustomerGroup:
    row = await info.context.loaders.customer_group.load(group_id)
    assert row is not None, "foreign key"
    return CustomerGroup.from_model(row)


# ---------------------------------------------------------------- store setup


@strawberry.input(description="A new website.")
class CreateWebsiteInput:
    code: str = strawberry.field(description="[a-z0-9_], at most 64 characters.")
    name: str = strawberry.field(description="Its name.")
    default_group_id: strawberry.ID = strawberry.field(
        description="The group of customers who register without an invitee group."
    )


@strawberry.input(description="What to change of a website; fields left out are kept.")
class UpdateWebsiteInput:
    name: str | None = strawberry.field(default=None, description="Its name.")
    default_group_id: strawberry.ID | None = strawberry.field(
        default=None, description="Its default customer group."
    )


@strawberry.input(description="A new store view.")
class CreateStoreViewInput:
    code: str = strawberry.field(description="[a-z0-9_], at most 64; what the Store header names.")
    name: str = strawberry.field(description="Its name, also the store name in its e-mails.")
    website_id: strawberry.ID = strawberry.field(description="Its website.")
    locale: str = strawberry.field(
        description="A locale the service can format dates for, e.g. de_DE."
    )
    base_url: str = strawberry.field(description='Absolute http(s) URL ending in "/".')
    invitation_url_template: str | None = strawberry.field(
        default=None,
        description='Default "{base_url}customer/account/create/?invitation={code}".',
    )
    is_default: bool | None = strawberry.field(
        default=False, description="true moves the default here."
    )
    sort_order: int | None = strawberry.field(default=0, description="Its place in a switcher.")


@strawberry.input(description="What to change of a store view; fields left out are kept.")
class UpdateStoreViewInput:
    name: str | None = strawberry.field(default=None, description="Its name.")
    locale: str | None = strawberry.field(default=None, description="e.g. de_DE.")
    base_url: str | None = strawberry.field(
        default=None, description="Later sends, retries and resends link here."
    )
    invitation_url_template: str | None = strawberry.field(
        default=None, description="Must contain {code}."
    )
    is_default: bool | None = strawberry.field(
        default=None, description="true moves the default here; the default cannot be unset."
    )
    sort_order: int | None = strawberry.field(default=None, description="Its place.")


@strawberry.input(description="A new customer group.")
class CreateCustomerGroupInput:
    code: str = strawberry.field(description="1 to 64 printable characters.")


@strawberry.type(description="Result of createWebsite and updateWebsite.")
class WebsitePayload:
    website: Website | None = strawberry.field(description="The website; null when refused.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was written.")


@strawberry.type(description="Result of createStoreView and updateStoreView.")
class StoreViewPayload:
    store_view: StoreView | None = strawberry.field(
        description="The store view; null when refused."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was written.")


@strawberry.type(description="Result of createCustomerGroup.")
class CustomerGroupPayload:
    customer_group: CustomerGroup | None = strawberry.field(
        description="The group; null when refused."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was written.")


@strawberry.type(description="Who the e-mails of a scope come from (Store Email Addresses).")
class EmailSender:
    identity: EmailIdentity = strawberry.field(description="The identity.")
    name: str = strawberry.field(description="The display name.")
    email: str = strawberry.field(description="The address.")

    @classmethod
    def listed(
        cls, senders: dict[identities.EmailIdentity, identities.Sender]
    ) -> list[EmailSender]:
        return [
            cls(identity=identity, name=sender.name, email=sender.email)
            for identity, sender in senders.items()
        ]


@strawberry.input(description="One identity's sender at a scope.")
class EmailSenderInput:
    identity: EmailIdentity = strawberry.field(description="The identity.")
    name: str = strawberry.field(description="The display name, 1 to 255 characters.")
    email: str = strawberry.field(description="The address.")


@strawberry.type(description="Result of updateEmailSenders.")
class UpdateEmailSendersPayload:
    senders: list[EmailSender] = strawberry.field(
        description="Every identity as seen at the scope after the change; empty when refused."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was written.")
