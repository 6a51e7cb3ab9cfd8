"""GraphQL inputs of the admin grid: its filter, its sort, and the grid's cursors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry

from domain import grid as m
from domain.errors import InvalidInput
from domain.ids import is_id
from domain.validation import has_control_characters
from models.invitation import DeliveryState, InvitationStatus
from schema.errors import BadRequest
from schema.pagination import decode_cursor

InvitationSortField = strawberry.enum(
    m.SortField,
    name="InvitationSortField",
    description=(
        "A column of the grid. WEBSITE and INVITEE_GROUP sort by id, INVITEE by the invitee's "
        "e-mail, STATUS by the stored status; a missing value (never sent, no invitee, default "
        "group) sorts lowest."
    ),
)


@strawberry.input(description="The order of the grid; ties are broken by id.")
class InvitationSort:
    field: m.SortField = strawberry.field(default=m.SortField.ID, description="The column.")
    reverse: bool = strawberry.field(
        default=True, description="Highest first (for ID and dates: newest first)."
    )


@strawberry.input(description="A range of instants; both ends included, either may be left out.")
class DateTimeRange:
    from_: datetime | None = strawberry.field(
        name="from", default=None, description="From this instant on."
    )
    to: datetime | None = strawberry.field(default=None, description="Up to this instant.")

    def to_range(self, name: str) -> m.TimeRange:
        return m.TimeRange(
            start=_utc(self.from_, ("filter", name, "from")),
            end=_utc(self.to, ("filter", name, "to")),
        )


def _utc(moment: datetime | None, field: tuple[str, ...]) -> datetime | None:
    """An instant in UTC; one without an offset is taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput("The instant lies off the calendar.", field=field) from None


@strawberry.input(description="Which invitations the grid shows; every condition given narrows.")
class InvitationFilter:
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only these invitations (at most 1,000 ids)."
    )
    email: str | None = strawberry.field(
        default=None, description="Substring of the invited address, case-insensitive."
    )
    invitee: str | None = strawberry.field(
        default=None, description="Substring of the invitee customer's e-mail, case-insensitive."
    )
    inviter_customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only invitations of this inviting customer."
    )
    created_by_admin: bool | None = strawberry.field(
        default=None, description="true: only admin invitations; false: only customers' ones."
    )
    status: list[InvitationStatus] | None = strawberry.field(
        default=None,
        description="Only these statuses; EXPIRED includes open ones past their expiry, which "
        "NOT_SENT and SENT exclude.",
    )
    delivery_state: list[DeliveryState] | None = strawberry.field(
        default=None, description="Only these delivery states."
    )
    sent_at: DateTimeRange | None = strawberry.field(
        default=None, description="Last accepted by the mail server in this range."
    )
    accepted_at: DateTimeRange | None = strawberry.field(
        default=None, description='Accepted ("Registered") in this range.'
    )
    created_at: DateTimeRange | None = strawberry.field(
        default=None, description="Created in this range."
    )
    website_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only invitations valid for these websites."
    )
    store_view_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only invitations sent from these store views."
    )
    invitee_group_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only invitations with these invitee groups."
    )

    def to_model(self) -> m.GridFilter:
        """The domain filter; InvalidInput at a bad instant."""
        return m.GridFilter(
            ids=self.ids,
            email=self.email,
            invitee=self.invitee,
            inviter_customer_id=self.inviter_customer_id,
            created_by_admin=self.created_by_admin,
            status=self.status,
            delivery_state=self.delivery_state,
            sent_at=self.sent_at.to_range("sentAt") if self.sent_at else None,
            accepted_at=self.accepted_at.to_range("acceptedAt") if self.accepted_at else None,
            created_at=self.created_at.to_range("createdAt") if self.created_at else None,
            website_ids=self.website_ids,
            store_view_ids=self.store_view_ids,
            invitee_group_ids=self.invitee_group_ids,
        )


def decode_grid_cursor(cursor: str, field: m.SortField) -> tuple[Any, int]:
    """The (sort key, id) of a grid cursor made for `field`; BadRequest for anything else."""
    key, row_id = decode_cursor(cursor)
    column = m.SORT_COLUMNS[field]
    if key is None and column.nullable:
        return None, row_id
    if column.key_type is datetime and isinstance(key, str):
        try:
            moment = datetime.fromisoformat(key)
            if moment.tzinfo is not None:
                return moment.astimezone(UTC), row_id
        except (ValueError, OverflowError):
            pass
    elif _plain_key_fits(key, column.key_type):
        return key, row_id
    raise BadRequest("The cursor is not valid for this sort: pass a cursor from a previous page.")


def _plain_key_fits(key: object, key_type: type) -> bool:
    if key_type is int:
        return is_id(key)
    return (
        key_type is str
        and isinstance(key, str)
        and len(key) <= m.MAX_SEARCH_LENGTH
        and not has_control_characters(key)
    )
