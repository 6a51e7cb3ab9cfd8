"""GraphQL projections of customers, tokens and the account payloads."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.tokens import IssuedToken
from models import accounts as m
from schema.context import Info
from schema.errors import UserError
from schema.store import CustomerGroup, Website, load_group, load_website


@strawberry.type(description="A storefront customer.")
class Customer:
    id: strawberry.ID = strawberry.field(description="Customer id.")
    email: str = strawberry.field(description="The customer's e-mail address.")
    firstname: str = strawberry.field(description="First name.")
    lastname: str = strawberry.field(description="Last name.")
    created_at: datetime = strawberry.field(description="When the customer registered.")
    group_id: strawberry.Private[int]
    website_id: strawberry.Private[int]

    @strawberry.field(description="The customer's group.")
    async def group(self, info: Info) -> CustomerGroup:
        return await load_group(info, self.group_id)

    @strawberry.field(description="The website the customer belongs to.")
    async def website(self, info: Info) -> Website:
        return await load_website(info, self.website_id)

    @classmethod
    def from_model(cls, row: m.Customer) -> Customer:
        return cls(
            id=strawberry.ID(str(row.id)),
            email=row.email,
            firstname=row.firstname,
            lastname=row.lastname,
            created_at=row.created_at,
            group_id=row.group_id,
            website_id=row.website_id,
        )


@strawberry.type(description="A customer bearer token.")
class CustomerToken:
    token: str = strawberry.field(description="Send as 'Authorization: Bearer <token>'.")
    expires_at: datetime = strawberry.field(description="When the token stops working.")

    @classmethod
    def from_issued(cls, issued: IssuedToken) -> CustomerToken:
        return cls(token=issued.token, expires_at=issued.expires_at)


@strawberry.type(description="Result of generateCustomerToken.")
class GenerateCustomerTokenPayload:
    customer_token: CustomerToken | None = strawberry.field(description="The new token.")
    user_errors: list[UserError] = strawberry.field(description="Why no token was issued.")


@strawberry.type(description="Result of generateAdminToken.")
class GenerateAdminTokenPayload:
    token: str | None = strawberry.field(description="The new admin token.")
    expires_at: datetime | None = strawberry.field(description="When the token stops working.")
    user_errors: list[UserError] = strawberry.field(description="Why no token was issued.")


@strawberry.type(description="Result of createCustomer.")
class CreateCustomerPayload:
    customer: Customer | None = strawberry.field(description="The new customer.")
    customer_token: CustomerToken | None = strawberry.field(
        description="A token for the new customer, so the storefront can sign them in at once."
    )
    user_errors: list[UserError] = strawberry.field(description="Why no customer was created.")


@strawberry.type(description="Result of revokeCustomerToken.")
class RevokeTokenPayload:
    revoked: bool = strawberry.field(description="Whether the token was revoked now.")


@strawberry.input(description="A new customer account.")
class CreateCustomerInput:
    email: str = strawberry.field(description="E-mail address; unique per website.")
    firstname: str = strawberry.field(description="First name.")
    lastname: str = strawberry.field(description="Last name.")
    password: str = strawberry.field(
        description="At least 8 characters from three of: lower, upper, digits, others."
    )
    invitation_code: str | None = strawberry.field(
        default=None, description="Accepting an invitation: the code from its link."
    )
