"""The typed per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from config import Settings
from domain.outage import Outage
from domain.tokens import Principal
from models.accounts import AdminUser, Customer, Permission
from models.store import StoreView
from schema.errors import Forbidden, RateLimited, Unauthenticated
from schema.loaders import Loaders
from schema.rate_limits import Action, Limit, RateLimits


def rate_limits(settings: Settings) -> RateLimits:
    """The abuse limits of one app, from its settings."""
    s = settings
    sign_in = Limit(s.rate_limit_sign_in_per_address, s.rate_limit_sign_in_per_account)
    return RateLimits(
        {
            Action.CUSTOMER_SIGN_IN: sign_in,
            Action.ADMIN_SIGN_IN: sign_in,
            Action.REGISTRATION: Limit(
                s.rate_limit_create_customer_per_address, s.rate_limit_create_customer_per_account
            ),
            # Anonymous, and a guesser tries a new code each time: only the address counts.
            Action.CODE_LOOKUP: Limit(s.rate_limit_code_lookup_per_address),
            Action.SEND_INVITATIONS: Limit(
                s.rate_limit_send_invitations_per_address,
                s.rate_limit_send_invitations_per_account,
            ),
        },
        window_seconds=s.rate_limit_window_seconds,
        storage=s.limit_storage,
        sign_in_failures=s.max_failed_sign_ins,
        sign_in_failure_seconds=s.lockout_seconds,
    )


@dataclass(slots=False)
class Context:
    """Built once per request by schema.view.GraphQLView."""

    request: Request | WebSocket
    response: Response | None
    settings: Settings
    # None when the Store header names no store view; schema.extensions refuses such requests.
    store: StoreView | None
    store_code: str | None
    principal: Principal | None
    # Shared by every request of one app (schema.view).
    rate_limits: RateLimits
    # A token was presented but is unknown, expired or revoked.
    bad_token: bool = False
    # Why a provider's JWT was refused (domain/provider_tokens.py), as a sentence.
    token_problem: str | None = None
    loaders: Loaders = field(default_factory=Loaders)
    # The app's record of a database outage (api.outage), told of one a resolver ran into.
    outage: Outage | None = None
    # The connection_init payload of a WebSocket connection (set by Strawberry).
    connection_params: dict[str, object] | None = None

    @property
    def customer(self) -> Customer | None:
        return self.principal.customer if self.principal else None

    @property
    def admin(self) -> AdminUser | None:
        return self.principal.admin if self.principal else None

    @cached_property
    def client_address(self) -> str:
        client = self.request.client
        return client.host if client else "unknown"

    async def limit(self, action: Action, *, account: str | None = None) -> None:
        """Count one `action` by this client (and account); RateLimited when over a limit."""
        allowed = await self.rate_limits.allow(action, address=self.client_address, account=account)
        if not allowed:
            raise RateLimited(f"Too many attempts at {action}: try again later.")

    def require_store(self) -> StoreView:
        assert self.store is not None, "schema.extensions.StoreScope refuses unknown stores"
        return self.store

    def require_customer(self) -> Customer:
        if self.customer is not None:
            return self.customer
        if self.admin is not None:
            raise Forbidden("This needs a customer token, not an admin token.")
        raise Unauthenticated(self._unauthenticated_message("customer"))

    def require_admin(self, permission: Permission | None = None) -> AdminUser:
        admin = self.admin
        if admin is None:
            if self.customer is not None:
                raise Forbidden("This needs an admin token.")
            raise Unauthenticated(self._unauthenticated_message("admin"))
        if permission is not None and permission.value not in admin.permissions:
            raise Forbidden(f"This needs the admin permission {permission.value}.")
        return admin

    def _unauthenticated_message(self, kind: str) -> str:
        if self.bad_token and self.token_problem:
            return f"The token is not valid: {self.token_problem}."
        if self.bad_token:
            return "The token is not valid: it is unknown, expired or revoked."
        return f"Sign in first: send 'Authorization: Bearer <{kind} token>'."


Info = strawberry.Info[Context, None]
