"""The two error channels of the API.

Expected business outcomes are `UserError`s in a payload. Top-level errors are `ClientError`s with
a stable `extensions.code` (UNAUTHENTICATED, FORBIDDEN, BAD_REQUEST, ...); anything else is a bug
and is masked as INTERNAL by schema.extensions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import strawberry
from graphql import GraphQLError
from strawberry.utils.str_converters import to_camel_case

from domain.errors import DomainError, ErrorCode, Field

# The domain's own enum, which each DomainError class carries a member of: a code is defined once.
strawberry.enum(ErrorCode, description="Stable codes of user errors.")


@strawberry.type(description="An expected refusal of (part of) a request.")
class UserError:
    code: ErrorCode = strawberry.field(description="Stable code of the error.")
    field: list[str] | None = strawberry.field(
        description='Path into the input, e.g. ["input", "emails", "3"].'
    )
    message: str = strawberry.field(description="What went wrong, for people.")

    @classmethod
    def from_domain(
        cls,
        error: DomainError,
        *,
        under: Sequence[str] = ("input",),
        arguments: Mapping[str, str] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> UserError:
        """The user error of a domain refusal, at its GraphQL path (see `graphql_path`)."""
        return cls(
            code=error.code,
            field=graphql_path(error.field, under=under, arguments=arguments, names=names),
            message=error.message,
        )


# The ends of a time range, as the domain names them and as the API's filters spell them.
RANGE_NAMES = {"start": "from", "end": "to"}
# The domain's name of the id of the invitation an operation acts on, and the API's.
INVITATION_ID = {"invitation_id": "id"}


def graphql_path(
    field: Field | None,
    *,
    under: Sequence[str] = ("input",),
    arguments: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
) -> list[str] | None:
    """The GraphQL path of a domain error's `field` (Python names, see domain.errors).

    The first name is an argument of the domain function: one of `arguments` is a GraphQL argument
    of its own (given by its GraphQL name), any other lies inside `under` (by default the
    operation's `input`). Names are camelCased, unless `names` spells them; indexes become strings.
    """
    if field is None:
        return None
    if field and arguments and isinstance(field[0], str) and field[0] in arguments:
        path, rest = [arguments[field[0]]], field[1:]
    else:
        path, rest = list(under), field
    renamed = names or {}
    for part in rest:
        path.append(str(part) if isinstance(part, int) else renamed.get(part, to_camel_case(part)))
    return path


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
    def from_domain(
        cls, error: DomainError, *, names: Mapping[str, str] | None = None
    ) -> BadRequest:
        """A bad argument of a field without userErrors: the domain error's code and GraphQL path
        ride along in extensions (`reason`, `field`). Its first name is the field's argument."""
        bad = cls(error.message)
        bad.extensions = {"code": cls.code, "reason": error.code}
        path = graphql_path(error.field, under=(), names=names)
        if path is not None:
            bad.extensions["field"] = path
        return bad


INTERNAL_CODE = "INTERNAL"
