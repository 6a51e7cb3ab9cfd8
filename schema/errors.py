"""The two error channels of the API.

Expected business outcomes are `UserError`s in a payload. Top-level errors are `ClientError`s with
a stable `extensions.code` (UNAUTHENTICATED, FORBIDDEN, BAD_REQUEST, ...); anything else is a bug
and is masked as INTERNAL by schema.extensions.
"""

from __future__ import annotations

from enum import Enum

import strawberry
from graphql import GraphQLError

from domain.errors import DomainError


@strawberry.enum(description="Stable codes of user errors.")
class ErrorCode(Enum):
    INVALID_EMAIL = "INVALID_EMAIL"
    DUPLICATE_INPUT = "DUPLICATE_INPUT"
    ALREADY_INVITED = "ALREADY_INVITED"
    CUSTOMER_EXISTS = "CUSTOMER_EXISTS"
    TOO_MANY_RECIPIENTS = "TOO_MANY_RECIPIENTS"
    MESSAGE_NOT_ALLOWED = "MESSAGE_NOT_ALLOWED"
    MESSAGE_TOO_LONG = "MESSAGE_TOO_LONG"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    INVITATIONS_DISABLED = "INVITATIONS_DISABLED"
    NOT_FOUND = "NOT_FOUND"
    INVALID_STATUS = "INVALID_STATUS"
    INVITATION_NOT_VALID = "INVITATION_NOT_VALID"
    INVITATION_EXPIRED = "INVITATION_EXPIRED"
    EMAIL_MISMATCH = "EMAIL_MISMATCH"
    REGISTRATION_BY_INVITATION_ONLY = "REGISTRATION_BY_INVITATION_ONLY"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    ACCOUNT_LOCKED = "ACCOUNT_LOCKED"
    WEAK_PASSWORD = "WEAK_PASSWORD"  # noqa: S105 (an error code)
    INVALID_INPUT = "INVALID_INPUT"


@strawberry.type(description="An expected refusal of (part of) a request.")
class UserError:
    code: ErrorCode = strawberry.field(description="Stable code of the error.")
    field: list[str] | None = strawberry.field(
        description='Path into the input, e.g. ["input", "emails", "3"].'
    )
    message: str = strawberry.field(description="What went wrong, for people.")

    @classmethod
    def from_domain(cls, error: DomainError) -> UserError:
        return cls(
            code=ErrorCode(error.code),
            field=list(error.field) if error.field is not None else None,
            message=error.message,
        )


class ClientError(GraphQLError):
    """A top-level error the client caused; never masked."""

    code = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": self.code})


class Unauthenticated(ClientError):
    code = "UNAUTHENTICATED"


class Forbidden(ClientError):
    code = "FORBIDDEN"


class RateLimited(ClientError):
    """Too many attempts from one client address, or at one account, for a while."""

    code = "RATE_LIMITED"


class SlowConsumer(ClientError):
    """A subscription's client read its updates more slowly than they came: it was ended."""

    code = "SLOW_CONSUMER"


class BadRequest(ClientError):
    code = "BAD_REQUEST"

    @classmethod
    def from_domain(cls, error: DomainError) -> BadRequest:
        """A bad argument of a field without userErrors: the domain error's code and path ride
        along in extensions (`reason`, `field`)."""
        bad = cls(error.message)
        bad.extensions = {"code": cls.code, "reason": error.code}
        if error.field is not None:
            bad.extensions["field"] = list(error.field)
        return bad


INTERNAL_CODE = "INTERNAL"
