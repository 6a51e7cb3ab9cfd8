"""GraphQL projections of invitations, their connection, previews and storefront settings.

`Invitation.from_model` and `invitation_connection` serve the storefront (`myInvitations`) and the
admin grid alike; the fields only admins may read carry the INVITATIONS permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import strawberry

from domain import invitation_settings as s
from domain import invitations
from domain.grid import Relation, Relations
from domain.invitations import SendOutcome
from domain.pagination import Page
from models import invitation as m
from models.accounts import Permission
from schema.accounts import Customer
from schema.context import Info
from schema.errors import UserError
from schema.pagination import PageInfo, encode_cursor
from schema.permissions import HasPermission
from schema.prefetch import NOT_LOADED, prefetched, selected
from schema.settings import RegistrationMode  # noqa: F401 (registers the GraphQL enum)
from schema.store import (
    CustomerGroup,
    StoreView,
    Website,
    load_group,
    load_store_view,
    load_website,
)

strawberry.enum(
    m.InvitationStatus,
    description=(
        "Where an invitation stands: NOT_SENT → SENT → ACCEPTED; NOT_SENT or SENT → CANCELED, "
        "or EXPIRED when its lifetime runs out."
    ),
)
strawberry.enum(
    m.DeliveryState,
    description="Where the e-mail of an invitation stands: QUEUED → SENDING → DELIVERED, "
    "or FAILED / UNKNOWN.",
)
# RegistrationMode is made a GraphQL enum once, in schema.settings (imported for that).

ADMIN_ONLY = [HasPermission(Permission.INVITATIONS)]


@strawberry.type(description="One change of an invitation's status.")
class InvitationStatusChange:
    status: m.InvitationStatus = strawberry.field(description="The status it changed to.")
    at: datetime = strawberry.field(description="When.")
    actor: str = strawberry.field(description='"customer:<id>", "admin:<username>", or "system".')

    @classmethod
    def from_model(cls, row: m.InvitationStatusChange) -> InvitationStatusChange:
        return cls(status=row.status, at=row.at, actor=row.actor)


@strawberry.type(description="The state of an invitation's e-mail.")
class InvitationDelivery:
    state: m.DeliveryState = strawberry.field(description="Where the e-mail stands.")
    attempts: int = strawberry.field(description="Attempts of the current send.")
    last_error: str | None = strawberry.field(description="The last error of the mail server.")
    next_attempt_at: datetime | None = strawberry.field(description="When it is tried next.")
    message_id: str | None = strawberry.field(
        description="The RFC 5322 Message-ID of the current send, shared by its retries."
    )


@strawberry.type(description="An invitation to one address.")
class Invitation:
    id: strawberry.ID = strawberry.field(description="Invitation id.")
    email: str = strawberry.field(description="The invited address.")
    status: m.InvitationStatus = strawberry.field(
        description="Its status; an open invitation past its expiry reads EXPIRED."
    )
    message: str | None = strawberry.field(description="The inviter's message.")
    created_at: datetime = strawberry.field(description="When it was created.")
    sent_at: datetime | None = strawberry.field(
        description="Last time the mail server accepted it."
    )
    accepted_at: datetime | None = strawberry.field(
        description='When it was accepted ("Registered").'
    )
    expires_at: datetime | None = strawberry.field(
        description="When it expires; null when it never does."
    )
    row: strawberry.Private[m.Invitation]
    # Relations loaded with the page (PageRelations), else NOT_LOADED (schema.prefetch).
    loaded_store_view: strawberry.Private[StoreView] = NOT_LOADED
    loaded_website: strawberry.Private[Website] = NOT_LOADED
    loaded_invitee_group: strawberry.Private[CustomerGroup | None] = NOT_LOADED
    loaded_inviter: strawberry.Private[Customer | None] = NOT_LOADED
    loaded_invitee: strawberry.Private[Customer | None] = NOT_LOADED

    @strawberry.field(
        description='The store view it was sent from ("Send From").',
        metadata=prefetched("loaded_store_view"),
    )
    async def store_view(self, info: Info) -> StoreView:
        if self.loaded_store_view is not NOT_LOADED:
            return self.loaded_store_view
        return await load_store_view(info, self.row.store_view_id)

    @strawberry.field(
        description='The website it is valid for ("Valid Website").',
        metadata=prefetched("loaded_website"),
    )
    async def website(self, info: Info) -> Website:
        if self.loaded_website is not NOT_LOADED:
            return self.loaded_website
        return await load_website(info, self.row.website_id)

    @strawberry.field(
        description="The group of the invitee; null: the website's default group.",
        metadata=prefetched("loaded_invitee_group"),
    )
    async def invitee_group(self, info: Info) -> CustomerGroup | None:
        if self.loaded_invitee_group is not NOT_LOADED:
            return self.loaded_invitee_group
        group_id = self.row.invitee_group_id
        return await load_group(info, group_id) if group_id is not None else None

    @strawberry.field(
        description="The inviting customer; null when an admin created it (admin).",
        permission_classes=ADMIN_ONLY,
        metadata=prefetched("loaded_inviter"),
    )
    async def inviter(self, info: Info) -> Customer | None:
        if self.loaded_inviter is not NOT_LOADED:
            return self.loaded_inviter
        return await _load_customer(info, self.row.inviter_id)

    @strawberry.field(
        description='The customer who registered through it ("Invitee") (admin).',
        permission_classes=ADMIN_ONLY,
        metadata=prefetched("loaded_invitee"),
    )
    async def invitee(self, info: Info) -> Customer | None:
        if self.loaded_invitee is not NOT_LOADED:
            return self.loaded_invitee
        return await _load_customer(info, self.row.invitee_id)

    @strawberry.field(
        description="Every change of its status, newest first (admin).",
        permission_classes=ADMIN_ONLY,
    )
    async def history(self, info: Info) -> list[InvitationStatusChange]:
        rows = await info.context.loaders.invitation_history.load(self.row.id)
        return [InvitationStatusChange.from_model(row) for row in rows]

    @strawberry.field(description="The state of its e-mail (admin).", permission_classes=ADMIN_ONLY)
    def delivery(self) -> InvitationDelivery:
        return InvitationDelivery(
            state=self.row.delivery_state,
            attempts=self.row.attempts,
            last_error=self.row.last_error,
            next_attempt_at=self.row.next_attempt_at,
            message_id=self.row.message_id,
        )

    @strawberry.field(
        description="The acceptance link, while the invitation can be accepted (admin).",
        permission_classes=ADMIN_ONLY,
    )
    async def url(self, info: Info) -> str | None:
        store_view = await info.context.loaders.store_view.load(self.row.store_view_id)
        assert store_view is not None, "foreign key"
        return invitations.link(self.row, store_view, secret=info.context.settings.secret_key)

    @classmethod
    def from_model(cls, row: m.Invitation) -> Invitation:
        return cls(
            id=strawberry.ID(str(row.id)),
            email=row.email,
            status=invitations.effective_status(row),
            message=row.message,
            created_at=row.created_at,
            sent_at=row.sent_at,
            accepted_at=row.accepted_at,
            expires_at=row.expires_at,
            row=row,
        )


async def _load_customer(info: Info, customer_id: int | None) -> Customer | None:
    if customer_id is None:
        return None
    row = await info.context.loaders.customer.load(customer_id)
    return Customer.from_model(row) if row is not None else None


@strawberry.type(description="An invitation and its cursor.")
class InvitationEdge:
    cursor: str = strawberry.field(description="Pass as `after` to read the rows after this one.")
    node: Invitation = strawberry.field(description="The invitation.")


@strawberry.type(description="A page of invitations.")
class InvitationConnection:
    edges: list[InvitationEdge] = strawberry.field(description="The invitations with cursors.")
    nodes: list[Invitation] = strawberry.field(description="The invitations of the page.")
    page_info: PageInfo = strawberry.field(description="Where the page starts and ends.")
    page: strawberry.Private[Page[m.Invitation]]

    @strawberry.field(
        description="Invitations matching, on all pages. Counted only when asked for: an exact "
        "count reads every match, so ask for it once rather than on every page."
    )
    async def total_count(self) -> int:
        return await self.page.total_count()


# The fields of Invitation whose rows domain.grid.page_relations loads with a page.
RELATION_FIELDS = {
    "storeView": Relation.STORE_VIEW,
    "website": Relation.WEBSITE,
    "inviteeGroup": Relation.INVITEE_GROUP,
    "inviter": Relation.INVITER,
    "invitee": Relation.INVITEE,
}


def selected_relations(info: Info) -> frozenset[Relation]:
    """The relations an invitation connection's operation selects of its nodes."""
    names = selected(info, ("edges", "node"), ("nodes",))
    return frozenset(RELATION_FIELDS[name] for name in names if name in RELATION_FIELDS)


@dataclass(frozen=True, slots=True)
class PageRelations:
    """The projections of a page's related rows, one per row (rows share them)."""

    loaded: frozenset[Relation]
    store_views: dict[int, StoreView]
    websites: dict[int, Website]
    groups: dict[int, CustomerGroup]
    customers: dict[int, Customer]

    @classmethod
    def of(cls, related: Relations) -> PageRelations:
        return cls(
            loaded=related.loaded,
            store_views={i: StoreView.from_model(r) for i, r in related.store_views.items()},
            websites={i: Website.from_model(r) for i, r in related.websites.items()},
            groups={i: CustomerGroup.from_model(r) for i, r in related.groups.items()},
            customers={i: Customer.from_model(r) for i, r in related.customers.items()},
        )

    def fill(self, node: Invitation) -> None:
        """Hands the node its relations; a foreign row that is missing is left to its resolver
        (which fails as before)."""
        row, loaded = node.row, self.loaded
        if Relation.STORE_VIEW in loaded:
            node.loaded_store_view = self.store_views.get(row.store_view_id, NOT_LOADED)
        if Relation.WEBSITE in loaded:
            node.loaded_website = self.websites.get(row.website_id, NOT_LOADED)
        if Relation.INVITEE_GROUP in loaded:
            group_id = row.invitee_group_id
            node.loaded_invitee_group = (
                None if group_id is None else self.groups.get(group_id, NOT_LOADED)
            )
        if Relation.INVITER in loaded:
            inviter_id = row.inviter_id
            node.loaded_inviter = None if inviter_id is None else self.customers.get(inviter_id)
        if Relation.INVITEE in loaded:
            invitee_id = row.invitee_id
            node.loaded_invitee = None if invitee_id is None else self.customers.get(invitee_id)


def invitation_connection(
    page: Page[m.Invitation], related: Relations | None = None
) -> InvitationConnection:
    """The connection of a keyset page; each cursor carries its row's (sort key, id). With
    `related`, the nodes carry those relations already (domain.grid.page_relations)."""
    edges = [
        InvitationEdge(cursor=encode_cursor(key, row.id), node=Invitation.from_model(row))
        for row, key in zip(page.rows, page.keys, strict=True)
    ]
    if related is not None and related.loaded:
        relations = PageRelations.of(related)
        for edge in edges:
            relations.fill(edge.node)
    return InvitationConnection(
        edges=edges,
        nodes=[edge.node for edge in edges],
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        page=page,
    )


@strawberry.type(description="What the registration page may show to whoever holds a code.")
class InvitationPreview:
    email: str = strawberry.field(description="The invited address.")
    inviter_firstname: str | None = strawberry.field(
        description="First name of the inviter; null for admin invitations."
    )
    acceptable: bool = strawberry.field(
        description="Whether registering in this store can accept it now."
    )
    status: m.InvitationStatus = strawberry.field(description="Its status.")
    store_view_id: strawberry.Private[int]

    @strawberry.field(description="The store view it was sent from.")
    async def store_view(self, info: Info) -> StoreView:
        return await load_store_view(info, self.store_view_id)

    @classmethod
    def from_model(cls, row: m.Invitation, *, website_id: int) -> InvitationPreview:
        inviter = row.inviter
        return cls(
            email=row.email,
            inviter_firstname=inviter.firstname if inviter is not None else None,
            acceptable=invitations.is_acceptable(row, website_id=website_id),
            status=invitations.effective_status(row),
            store_view_id=row.store_view_id,
        )


@strawberry.type(description="What a storefront needs, resolved for the current store view.")
class StorefrontInvitationSettings:
    enabled: bool = strawberry.field(
        description="The feature is on, and on for the storefront, in this store view."
    )
    max_invitations_per_send: int = strawberry.field(
        description="How many addresses sendInvitations takes at once."
    )
    allow_custom_message: bool = strawberry.field(
        description="Whether sendInvitations takes a message."
    )
    registration_mode: s.RegistrationMode = strawberry.field(
        description="Whether registering needs an invitation."
    )

    @classmethod
    def from_settings(cls, settings: s.InvitationSettings) -> StorefrontInvitationSettings:
        return cls(
            enabled=settings.storefront_enabled,
            max_invitations_per_send=settings.max_invitations_per_send,
            allow_custom_message=settings.allow_custom_message,
            registration_mode=settings.registration_mode,
        )


@strawberry.input(description="Addresses to invite, and an optional message.")
class SendInvitationsInput:
    emails: list[str] = strawberry.field(
        description="The addresses, at most maxInvitationsPerSend."
    )
    message: str | None = strawberry.field(
        default=None, description="A personal message, at most 2,000 characters."
    )


@strawberry.type(description="Result of sendInvitations.")
class SendInvitationsPayload:
    invitations: list[Invitation] = strawberry.field(
        description="The invitations created, in input order."
    )
    user_errors: list[UserError] = strawberry.field(
        description='One per refused address, field = ["input","emails","<index>"], or one '
        "refusing the whole request."
    )

    @classmethod
    def from_outcome(cls, outcome: SendOutcome) -> SendInvitationsPayload:
        return cls(
            invitations=[Invitation.from_model(row) for row in outcome.invitations],
            user_errors=[UserError.from_domain(error) for error in outcome.errors],
        )


@strawberry.type(description="Result of acceptInvitation.")
class AcceptInvitationPayload:
    invitation: Invitation | None = strawberry.field(description="The accepted invitation.")
    customer: Customer | None = strawberry.field(
        description="You, now the invitee (in the invitation's invitee group, if it has one)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was not accepted.")


@strawberry.type(description="Result of cancelInvitation.")
class CancelInvitationPayload:
    invitation: Invitation | None = strawberry.field(description="The canceled invitation.")
    user_errors: list[UserError] = strawberry.field(description="Why it was not canceled.")
