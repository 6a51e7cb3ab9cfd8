"""Permission classes, declared on fields; each raises UNAUTHENTICATED or FORBIDDEN.

They depend on the request's principal alone (not on the object or the arguments), so
schema.authorization can also try them over a whole document before anything runs; Strawberry
still runs them at each field.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from strawberry.permission import BasePermission

from models.accounts import Permission
from schema.context import Context, Info


class PrincipalPermission(BasePermission):
    """A permission that only asks who the principal is: `authorize` raises if it may not."""

    def authorize(self, context: Context) -> None:
        raise NotImplementedError

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        self.authorize(info.context)
        return True


class IsCustomer(PrincipalPermission):
    """The request carries a valid customer token."""

    message = "This needs a customer token."

    def authorize(self, context: Context) -> None:
        context.require_customer()


class IsAdmin(PrincipalPermission):
    """The request carries a valid admin token."""

    message = "This needs an admin token."

    def authorize(self, context: Context) -> None:
        context.require_admin()


@cache
def HasPermission(permission: Permission | str) -> type[BasePermission]:  # noqa: N802
    """A permission class: the request carries an admin token whose user holds `permission`.

    Strawberry instantiates permission classes itself, so this builds one class per permission.
    """
    required = Permission(permission)

    class _HasPermission(PrincipalPermission):
        message = f"This needs the admin permission {required.value}."

        def authorize(self, context: Context) -> None:
            context.require_admin(required)

    _HasPermission.__name__ = f"HasPermission_{required.value}"
    return _HasPermission
