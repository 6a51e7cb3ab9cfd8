"""Per-request DataLoaders: a page of rows loads each kind of relation with one query."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from domain.grid import Relations
from models.accounts import Customer
from models.invitation import InvitationStatusChange
from models.store import CustomerGroup, StoreView, Website

M = TypeVar("M", bound=Model)


def _by_id(model: type[M]) -> DataLoader[int, M | None]:
    async def load(ids: Sequence[int]) -> list[M | None]:
        rows = {row.pk: row for row in await model.filter(id__in=list(set(ids)))}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


def _history() -> DataLoader[int, list[InvitationStatusChange]]:
    async def load(ids: Sequence[int]) -> list[list[InvitationStatusChange]]:
        by_invitation: dict[int, list[InvitationStatusChange]] = {i: [] for i in ids}
        rows = InvitationStatusChange.filter(invitation_id__in=list(set(ids)))
        for row in await rows.order_by("-at", "-id"):
            by_invitation[row.invitation_id].append(row)
        return [by_invitation[i] for i in ids]

    return DataLoader(load_fn=load)


def _store_views_of_websites() -> DataLoader[int, list[StoreView]]:
    async def load(ids: Sequence[int]) -> list[list[StoreView]]:
        by_website: dict[int, list[StoreView]] = {i: [] for i in ids}
        rows = StoreView.filter(website_id__in=list(set(ids))).order_by("sort_order", "id")
        for row in await rows:
            by_website[row.website_id].append(row)
        return [by_website[i] for i in ids]

    return DataLoader(load_fn=load)


class Loaders:
    """Created empty with each request; each loader on first use."""

    @cached_property
    def website(self) -> DataLoader[int, Website | None]:
        return _by_id(Website)

    @cached_property
    def store_view(self) -> DataLoader[int, StoreView | None]:
        return _by_id(StoreView)

    @cached_property
    def store_views_of_website(self) -> DataLoader[int, list[StoreView]]:
        """The store views of each website, in their sort order."""
        return _store_views_of_websites()

    @cached_property
    def customer_group(self) -> DataLoader[int, CustomerGroup | None]:
        return _by_id(CustomerGroup)

    @cached_property
    def customer(self) -> DataLoader[int, Customer | None]:
        return _by_id(Customer)

    @cached_property
    def invitation_history(self) -> DataLoader[int, list[InvitationStatusChange]]:
        """Status changes of each invitation, newest first."""
        return _history()

    def prime(self, related: Relations) -> None:
        """Rows loaded with a page (domain.grid.page_relations), for the fields below them."""
        if related.store_views:
            self.store_view.prime_many(related.store_views)
        if related.websites:
            self.website.prime_many(related.websites)
        if related.groups:
            self.customer_group.prime_many(related.groups)
        if related.customers:
            self.customer.prime_many(related.customers)
