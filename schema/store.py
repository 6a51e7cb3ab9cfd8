"""GraphQL projections of the store structure."""

from __future__ import annotations

import strawberry

from models import store as m
from schema.context import Info


@strawberry.type(description="A website; customers and their addresses belong to one.")
class Website:
    id: strawberry.ID = strawberry.field(description="Website id.")
    code: str = strawberry.field(description="Website code, e.g. base.")
    name: str = strawberry.field(description="Website name.")

    @classmethod
    def from_model(cls, row: m.Website) -> Website:
        return cls(id=strawberry.ID(str(row.id)), code=row.code, name=row.name)


@strawberry.type(description="A customer group.")
class CustomerGroup:
    id: strawberry.ID = strawberry.field(description="Group id.")
    code: str = strawberry.field(description="Group code, e.g. General.")

    @classmethod
    def from_model(cls, row: m.CustomerGroup) -> CustomerGroup:
        return cls(id=strawberry.ID(str(row.id)), code=row.code)


@strawberry.type(description="A store view of a website: its language and storefront.")
class StoreView:
    id: strawberry.ID = strawberry.field(description="Store view id.")
    code: str = strawberry.field(description="Code to send in the Store header.")
    name: str = strawberry.field(description="Store view name.")
    locale: str = strawberry.field(description="e.g. en_US, sv_SE, zh_CN: language of its emails.")
    website_id: strawberry.Private[int]

    @strawberry.field(description="The website of this store view.")
    async def website(self, info: Info) -> Website:
        return await load_website(info, self.website_id)

    @classmethod
    def from_model(cls, row: m.StoreView) -> StoreView:
        return cls(
            id=strawberry.ID(str(row.id)),
            code=row.code,
            name=row.name,
            locale=row.locale,
            website_id=row.website_id,
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
