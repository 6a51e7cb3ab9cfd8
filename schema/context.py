"""The typed per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from config import Settings
from models.accounts import AdminUser, Customer, Permission
from models.rate_limit import SlidingWindowLimiter
from models.store import StoreView
from models.tokens import Principal
from schema.errors import Forbidden, Unauthenticated
from schema.loaders import Loaders

# invitationByCode: a registration page asks once or twice; a guesser asks all day.
CODE_LOOKUPS_PER_WINDOW = 30
CODE_LOOKUP_WINDOW_SECONDS = 60.0


def code_lookup_limiter() -> SlidingWindowLimiter:
    return SlidingWindowLimiter(
        limit=CODE_LOOKUPS_PER_WINDOW, window_seconds=CODE_LOOKUP_WINDOW_SECONDS
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
    # A token was presented but is unknown, expired or revoked.
    bad_token: bool = False
    loaders: Loaders = field(default_factory=Loaders)
    # Shared by every request of one app (schema.view): invitationByCode look-ups per address.
    code_lookups: SlidingWindowLimiter = field(default_factory=code_lookup_limiter)

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
        if self.bad_token:
            return "The token is not valid: it is unknown, expired or revoked."
        return f"Sign in first: send 'Authorization: Bearer <{kind} token>'."


Info = strawberry.Info[Context, None]
