"""Sign-in, registration and the signed-in customer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from domain import registration, signin, tokens
from domain.errors import AccountLocked, DomainError, EmailMismatch, InvalidCredentials
from domain.validation import email_key
from models.store import Website
from schema.accounts import (
    CreateCustomerInput,
    CreateCustomerPayload,
    Customer,
    CustomerToken,
    GenerateAdminTokenPayload,
    GenerateCustomerTokenPayload,
    RevokeTokenPayload,
)
from schema.context import Context, Info
from schema.errors import UserError
from schema.invitation import AcceptInvitationPayload, Invitation
from schema.rate_limits import Action

LOCKED_OUT = (
    "Too many failed sign-ins to this account from your address: try again in a few minutes."
)


def _customer_policy(ctx: Context) -> signin.SignInPolicy:
    s = ctx.settings
    return signin.SignInPolicy(
        password_profile=s.password_hash_profile, token_ttl_seconds=s.customer_token_ttl_seconds
    )


def _admin_policy(ctx: Context) -> signin.SignInPolicy:
    s = ctx.settings
    return signin.SignInPolicy(
        password_profile=s.password_hash_profile, token_ttl_seconds=s.admin_token_ttl_seconds
    )


async def _held_off(
    ctx: Context, account: str, sign_in: Callable[[], Awaitable[tokens.IssuedToken]]
) -> tokens.IssuedToken:
    """`sign_in`, unless this client address failed on this account too often lately.

    Failures count per (account, address), so a guesser is held off without locking the owner,
    who signs in from elsewhere, out (docs/security.md).
    """
    limits, address = ctx.rate_limits, ctx.client_address
    if await limits.locked_out(address=address, account=account):
        raise AccountLocked(LOCKED_OUT)
    try:
        return await sign_in()
    except InvalidCredentials:
        if not await limits.sign_in_failed(address=address, account=account):
            raise AccountLocked(LOCKED_OUT) from None
        raise


async def _website(ctx: Context) -> Website:
    website = await ctx.loaders.website.load(ctx.require_store().website_id)
    assert website is not None, "foreign key"
    return website


async def generate_customer_token(
    info: Info, email: str, password: str
) -> GenerateCustomerTokenPayload:
    ctx = info.context
    website = await _website(ctx)
    account = f"{website.id}:{email_key(email.strip())}"
    await ctx.limit(Action.CUSTOMER_SIGN_IN, account=account)
    try:
        issued = await _held_off(
            ctx,
            f"customer:{account}",
            lambda: signin.sign_in_customer(
                website=website, email=email, password=password, policy=_customer_policy(ctx)
            ),
        )
    except DomainError as error:
        return GenerateCustomerTokenPayload(
            customer_token=None, user_errors=[UserError.from_domain(error)]
        )
    return GenerateCustomerTokenPayload(
        customer_token=CustomerToken.from_issued(issued), user_errors=[]
    )


async def generate_admin_token(
    info: Info, username: str, password: str
) -> GenerateAdminTokenPayload:
    ctx = info.context
    account = username.strip().casefold()
    await ctx.limit(Action.ADMIN_SIGN_IN, account=account)
    try:
        issued = await _held_off(
            ctx,
            f"admin:{account}",
            lambda: signin.sign_in_admin(
                username=username, password=password, policy=_admin_policy(ctx)
            ),
        )
    except DomainError as error:
        return GenerateAdminTokenPayload(
            token=None, expires_at=None, user_errors=[UserError.from_domain(error)]
        )
    return GenerateAdminTokenPayload(
        token=issued.token, expires_at=issued.expires_at, user_errors=[]
    )


async def create_customer(info: Info, input: CreateCustomerInput) -> CreateCustomerPayload:
    ctx = info.context
    website = await _website(ctx)
    await ctx.limit(Action.REGISTRATION, account=f"{website.id}:{email_key(input.email.strip())}")
    try:
        checked = registration.Registration.checked(
            email=input.email,
            firstname=input.firstname,
            lastname=input.lastname,
            password=input.password,
        )
        customer = await registration.register(
            website=website,
            store=ctx.require_store(),
            registration=checked,
            invitation_code=input.invitation_code,
            password_profile=ctx.settings.password_hash_profile,
            secret=ctx.settings.secret_key,
        )
    except DomainError as error:
        return CreateCustomerPayload(
            customer=None, customer_token=None, user_errors=[UserError.from_domain(error)]
        )
    issued = await tokens.issue_token(
        customer=customer, ttl_seconds=ctx.settings.customer_token_ttl_seconds
    )
    return CreateCustomerPayload(
        customer=Customer.from_model(customer),
        customer_token=CustomerToken.from_issued(issued),
        user_errors=[],
    )


async def accept_invitation(info: Info, code: str) -> AcceptInvitationPayload:
    ctx = info.context
    customer = ctx.require_customer()
    principal = ctx.principal
    assert principal is not None, "a customer is signed in"
    if not principal.from_provider:
        return AcceptInvitationPayload(
            invitation=None,
            customer=None,
            user_errors=[
                UserError.from_domain(
                    EmailMismatch(
                        "This needs the e-mail your identity provider verified: sign in with its "
                        "token, or register with createCustomer and the invitationCode."
                    ).at("code"),
                    under=(),
                )
            ],
        )
    website = await _website(ctx)
    await ctx.limit(Action.REGISTRATION, account=f"{website.id}:{customer.email_key}")
    try:
        invitation = await registration.accept_as_customer(
            customer=customer,
            website=website,
            code=code,
            email=principal.email,
            email_verified=principal.email_verified,
            secret=ctx.settings.secret_key,
        )
    except DomainError as error:
        return AcceptInvitationPayload(
            invitation=None,
            customer=None,
            user_errors=[UserError.from_domain(error.at("code"), under=())],
        )
    return AcceptInvitationPayload(
        invitation=Invitation.from_model(invitation),
        customer=Customer.from_model(customer),
        user_errors=[],
    )


async def revoke_customer_token(info: Info) -> RevokeTokenPayload:
    principal = info.context.principal
    assert principal is not None, "guarded by IsCustomer"
    return RevokeTokenPayload(revoked=await tokens.revoke(principal.token_hash))


async def customer(info: Info) -> Customer | None:
    return Customer.from_model(info.context.require_customer())
