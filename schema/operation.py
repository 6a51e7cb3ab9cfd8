"""A shorter way through Strawberry's operation machinery for an HTTP operation whose document
has passed before.

Strawberry's `Schema.execute` runs every operation through its extension runner: the schema's
seven extensions are built anew, and every hook (operation, parse, validation, execution) enters
and leaves a context manager per extension, whatever it does. On a read of one page that was a
tenth of the service's CPU (docs/performance.md), for extensions that, on an HTTP query or
mutation whose document is valid and whose principal may run it, only count the operation
(OperationMetrics) and, when the result has errors, hide suggestions (in production), turn an
unreachable database into the outage answer and mask unexpected errors (MaskUnexpectedErrors).
Here that work is done in place, around the same graphql-core `execute` call Strawberry makes.
api.schema.Schema.execute takes this way when it may; so does api/view.py for a plain JSON POST,
which it then answers without Strawberry's HTTP run as well (`document` before the request's
context is built, `admits` after).

The short way is taken only when nothing else could happen, decided before anything runs: the
document is checked (schema.limits: from the cache after its first request) without a syntax or
validation error; the principal may run the operation (schema.authorization's refusals); it is a
query or mutation the HTTP method allows; the request is HTTP, names a known store view (its
Store header), and tracing is off (TraceOperations names the span). Anything else goes
Strawberry's way, unchanged, which then answers exactly as before: a new document's syntax error
is met there too (so it is parsed twice; a valid new document is parsed once, and cached).

A fence around library internals, used nowhere else: it calls Strawberry's `_process_errors` and
`execution_context_class_kwargs` as `Schema._execute_operation` does (strawberry-graphql
0.341.2, pinned in pyproject.toml), and knows the extensions api.schema.build_schema installs
(KNOWN_EXTENSIONS; another extension turns the short way off). tests/schema/test_operation.py
compares every answer, status, header and metric of both ways. INVITATIONS_SHORT_OPERATIONS=false
(config.py) leaves this module out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import DocumentNode, MiddlewareManager, execute
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import located_error
from starlette.requests import Request
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import execution_context_class_kwargs
from strawberry.types.execution import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.utils.await_maybe import await_maybe
from strawberry.utils.operation import get_first_operation, get_operation_type

import service_logging
from domain import tracing
from schema import operation_metrics
from schema.authorization import Guards, refusals
from schema.context import Context
from schema.extensions import (
    HideSuggestions,
    MaskUnexpectedErrors,
    is_unexpected,
    refuse_if_unreachable,
)
from schema.limits import DocumentChecker

if TYPE_CHECKING:
    import strawberry

# The extensions whose work is done here (api.schema.build_schema's, TraceOperations aside: the
# short way is not taken while tracing is on). A schema with directives of its own gets none
# (Strawberry resolves them through an extension of its own).
KNOWN_EXTENSIONS = frozenset(
    {
        "OperationMetrics",
        "CheckedDocuments",
        "StoreScope",
        "SubscriptionsOverWebSocket",
        "MaskUnexpectedErrors",
        "TraceOperations",
        "HideSuggestions",
    }
)
SHORT_TYPES = frozenset({OperationType.QUERY, OperationType.MUTATION})
# Strawberry passes a middleware manager always; it is empty, as no extension here resolves.
_NO_MIDDLEWARE = MiddlewareManager()


@dataclass(frozen=True, slots=True)
class Known:
    """An operation that may take the short way, as decided before it runs."""

    document: DocumentNode
    # The operation's name as Strawberry's ExecutionContext.operation_name gives it.
    name: str | None
    kind: OperationType
    # The guarded fields of the document's operations (schema.authorization).
    guards: Guards


class ShortOperations:
    """The short way of one schema's operations (see the module docstring)."""

    def __init__(self, schema: strawberry.Schema, check: DocumentChecker) -> None:
        self.schema = schema
        self.check = check
        # In production, as its extensions tell (api.schema.build_schema).
        self.hide_suggestions = HideSuggestions in schema.extensions
        # Built once: MaskErrors keeps no state between requests but a flag for streams.
        self.masking = MaskUnexpectedErrors()

    @staticmethod
    def covers(extensions: Iterable[Callable[[], object]]) -> bool:
        """Whether the short way does the work of every one of these schema extensions."""
        return {type(extension()).__name__ for extension in extensions} <= KNOWN_EXTENSIONS

    def known(
        self,
        query: str | None,
        operation_name: str | None,
        allowed: Iterable[OperationType] | None,
        context: object,
    ) -> Known | None:
        """The operation, when it may take the short way; None sends it Strawberry's way."""
        known = self.document(query, operation_name, allowed)
        return known if known is not None and self.admits(known, context) else None

    def admits(self, known: Known, context: object) -> bool:
        """Whether the request of this context may run the operation the short way."""
        if not isinstance(context, Context) or context.store is None:
            return False
        if not isinstance(context.request, Request):
            return False
        return not refusals(known.guards.get(known.name, ()), context)

    def document(
        self, query: str | None, operation_name: str | None, allowed: Iterable[OperationType] | None
    ) -> Known | None:
        """The operation, when its document may take the short way, whoever sends it."""
        if not query or tracing.tracer() is not None:
            return None
        try:
            document, errors, guards = self.check(self.schema._schema, query)
        except Exception:  # a syntax error (or worse), answered Strawberry's way
            return None
        if errors:
            return None
        name = operation_name
        if name is None:
            first = get_first_operation(document)
            name = first.name.value if first is not None and first.name else None
        try:
            kind = get_operation_type(document, name)
        except RuntimeError:  # no operation of that name: Strawberry's error
            return None
        if kind not in SHORT_TYPES or (allowed is not None and kind not in allowed):
            return None
        return Known(document, name, kind, guards)

    async def execute(
        self,
        known: Known,
        *,
        variable_values: dict[str, Any] | None,
        context: Context,
        root_value: Any,
        operation_extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        """Run the operation as Schema.execute would, with its extensions' work done in place."""
        # OperationMetrics: the name the client sent, on the lines logged while it runs.
        named = operation_metrics.log_name(known.name)
        if named is not None:
            service_logging.name_operation(named)
        started = time.perf_counter()
        result: GraphQLExecutionResult
        try:
            result = await await_maybe(
                execute(
                    self.schema._schema,
                    known.document,
                    root_value=root_value,
                    middleware=_NO_MIDDLEWARE,
                    variable_values=variable_values,
                    operation_name=known.name,
                    context_value=context,
                    is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
                    **execution_context_class_kwargs(self.schema.execution_context_class),
                    operation_extensions=operation_extensions,
                )
            )
        except Exception as error:  # as Strawberry answers it: one error, no data (masked below)
            result = GraphQLExecutionResult(data=None, errors=[located_error(error)])
        if result.errors:
            # Strawberry's logging (and, in production, its field suggestions removed), before
            # the masking, as in Schema._execute_operation; then the extensions, innermost first.
            self.schema._process_errors(result.errors)
            if self.hide_suggestions:
                HideSuggestions._strip(result.errors)
            refuse_if_unreachable(result, context)
            result.errors = [
                self.masking.anonymise_error(error) if is_unexpected(error) else error
                for error in result.errors or ()
            ]
        operation_metrics.record(
            known.kind.value,
            known.name,
            valid=True,
            seconds=time.perf_counter() - started,
            named=named is not None,
            errors=result.errors,
        )
        return ExecutionResult(data=result.data, errors=result.errors, extensions={})
