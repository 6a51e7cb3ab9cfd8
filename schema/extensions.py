"""Schema extensions: the Store header check, subscriptions only over WebSocket, the masking of
unexpected errors, and hiding the schema's names from error messages in production."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from graphql import ExecutionResult, GraphQLError
from starlette.websockets import WebSocket
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.types.graphql import OperationType

from schema import outage
from schema.errors import INTERNAL_CODE, BadRequest

logger = logging.getLogger("invitations.graphql")


class StoreScope(SchemaExtension):
    """Refuses the whole operation when the Store header names no store view."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context.context
        if ctx.store is None:
            error = BadRequest(f"Unknown store view code in the Store header: {ctx.store_code!r}.")
            self.execution_context.result = ExecutionResult(data=None, errors=[error])
        yield


class SubscriptionsOverWebSocket(SchemaExtension):
    """Subscriptions over WebSocket, and nothing else over it: a connection signs in once, and
    only subscriptions check its token again, so queries and mutations go over HTTP POST."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        over_websocket = isinstance(context.context.request, WebSocket)
        subscription = context.operation_type is OperationType.SUBSCRIPTION
        if over_websocket and not subscription:
            error = BadRequest("Over WebSocket, only subscriptions: send this over HTTP POST.")
            context.result = ExecutionResult(data=None, errors=[error])
        elif subscription and not over_websocket:
            error = BadRequest("Subscriptions run over WebSocket (graphql-transport-ws) only.")
            context.result = ExecutionResult(data=None, errors=[error])
        yield


def is_unexpected(error: GraphQLError) -> bool:
    """Syntax, validation, permission and client errors pass; anything else is a bug."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """Replaces unexpected errors by a fixed message with extensions.code INTERNAL; logs them.

    A result with an error of an unreachable database becomes the outage answer instead
    (schema.outage).
    """

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Internal server error.")

    def on_operation(self) -> Iterator[None]:
        # Strawberry's masking runs after the operation; an unreachable database is answered
        # before it (503, logged once per outage), as it is not a bug to mask.
        masking = super().on_operation()
        next(masking)
        yield
        refuse_if_unreachable(self.execution_context.result, self.execution_context.context)
        with contextlib.suppress(StopIteration):
            next(masking)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        logger.error("unexpected error at %s", error.path, exc_info=error.original_error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL_CODE}
        return masked


def refuse_if_unreachable(result: object, context: object) -> None:
    """Make `result` the outage answer when one of its errors says the database is unreachable."""
    errors = getattr(result, "errors", None)
    unreachable = outage.database_error(errors) if errors else None
    if unreachable is not None:
        outage.refuse(result, context, unreachable)


def without_suggestion(message: str) -> str:
    head, found, _ = message.partition(" Did you mean")
    return head if found else message


class HideSuggestions(SchemaExtension):
    """Removes "Did you mean ...?" from every error, not only from unknown fields.

    StrawberryConfig(disable_field_suggestions=True) strips it from "Cannot query field" alone;
    unknown types, arguments and enum values would still spell out the schema that production
    does not let anyone introspect.
    """

    def on_validate(self) -> Iterator[None]:
        yield
        self._strip(self.execution_context.pre_execution_errors)

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        self._strip(result.errors if result is not None else None)

    @staticmethod
    def _strip(errors: list[GraphQLError] | None) -> None:
        for error in errors or ():
            error.message = without_suggestion(error.message)


class _StrawberryErrorLogFilter(logging.Filter):
    """Strawberry logs every error, denials included, with a traceback.

    MaskUnexpectedErrors logs the unexpected ones; the rest are the client's business.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not isinstance(record.msg, GraphQLError)


_QUIET = _StrawberryErrorLogFilter()


def quiet_expected_errors() -> None:
    """Installs the filter (once: adding the same filter again leaves it installed once)."""
    logging.getLogger("strawberry.execution").addFilter(_QUIET)
