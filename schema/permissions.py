"""Permission classes, declared on fields; each raises UNAUTHENTICATED or FORBIDDEN."""

from __future__ import annotations

from functools import cache
from typing import Any

from strawberry.permission import BasePermission

from models.accounts import Permission
from schema.context import Info


class IsCustomer(BasePermission):
    """The request carries a valid customer token."""

    message = "This needs a customer token."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        info.context.require_customer()
        return True


class IsAdmin(BasePermission):
    """The request carries a valid admin token."""

    message = "This needs an admin token."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        info.context.require_admin()
        return True


@cache
def HasPermission(permission: Permission | str) -> type[BasePermission]:  # noqa: N802
    """A permission class: the request carries an admin token whose user holds `permission`.

    Strawberry instantiates permission classes itself, so this builds one class per permission.
    """
    required = Permission(permission)

    class _HasPermission(BasePermission):
        message = f"This needs the admin permission {required.value}."

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            info.context.require_admin(required)
            return True

    _HasPermission.__name__ = f"HasPermission_{required.value}"
    return _HasPermission
