"""GraphQL inputs and payloads of the admin's invitation mutations."""

from __future__ import annotations

import strawberry

from domain.admin_invitations import Outcome
from schema.errors import UserError
from schema.invitation import Invitation


@strawberry.input(description="Addresses an admin invites, from one store view.")
class CreateInvitationsInput:
    emails: list[str] = strawberry.field(description="The addresses, at most 10,000.")
    message: str | None = strawberry.field(
        default=None, description="A personal message, at most 2,000 characters."
    )
    store_view_id: strawberry.ID = strawberry.field(
        description='The store view the e-mails are sent from ("Send From").'
    )
    invitee_group_id: strawberry.ID | None = strawberry.field(
        default=None, description='The group invitees join ("Invitee Group"); none: the default.'
    )


@strawberry.input(description="What to change in a NOT_SENT invitation; what is left out stays.")
class UpdateInvitationInput:
    email: str | None = strawberry.field(default=None, description="The new invited address.")
    message: str | None = strawberry.field(
        default=strawberry.UNSET, description="The new message; null or blank removes it."
    )


def _errors(outcome: Outcome, under: tuple[str, ...] = ("input",)) -> list[UserError]:
    return [UserError.from_domain(error, under=under) for error in outcome.errors]


def _nodes(outcome: Outcome) -> list[Invitation]:
    return [Invitation.from_model(row) for row in outcome.invitations]


@strawberry.type(description="Result of createInvitations.")
class CreateInvitationsPayload:
    invitations: list[Invitation] = strawberry.field(
        description="The invitations created, in input order."
    )
    user_errors: list[UserError] = strawberry.field(
        description='One per refused address, field = ["input","emails","<index>"], or one '
        "refusing the whole request."
    )

    @classmethod
    def from_outcome(cls, outcome: Outcome) -> CreateInvitationsPayload:
        return cls(invitations=_nodes(outcome), user_errors=_errors(outcome))


@strawberry.type(description="Result of updateInvitation.")
class UpdateInvitationPayload:
    invitation: Invitation | None = strawberry.field(description="The changed invitation.")
    user_errors: list[UserError] = strawberry.field(description="Why it was not changed.")


@strawberry.type(description="Result of discardInvitations.")
class DiscardInvitationsPayload:
    discarded_count: int = strawberry.field(description="How many were discarded.")
    invitations: list[Invitation] = strawberry.field(
        description="The ones discarded, in input order."
    )
    user_errors: list[UserError] = strawberry.field(
        description='One per skipped id, field = ["ids","<index>"].'
    )

    @classmethod
    def from_outcome(cls, outcome: Outcome) -> DiscardInvitationsPayload:
        nodes = _nodes(outcome)
        return cls(
            discarded_count=len(nodes), invitations=nodes, user_errors=_errors(outcome, under=())
        )


@strawberry.type(description="Result of resendInvitations.")
class ResendInvitationsPayload:
    queued_count: int = strawberry.field(description="How many were queued again.")
    invitations: list[Invitation] = strawberry.field(
        description="The ones queued again, in input order."
    )
    user_errors: list[UserError] = strawberry.field(
        description='One per skipped id, field = ["ids","<index>"]; an address that now belongs '
        "to a customer is discarded (CUSTOMER_EXISTS)."
    )

    @classmethod
    def from_outcome(cls, outcome: Outcome) -> ResendInvitationsPayload:
        nodes = _nodes(outcome)
        return cls(
            queued_count=len(nodes), invitations=nodes, user_errors=_errors(outcome, under=())
        )
