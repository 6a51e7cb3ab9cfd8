"""Request metrics of GraphQL operations (served on /metrics), and the operation's name on the
request's log lines.

Labels are bounded: an operation is counted under its own name only when its document parsed and
validated, its name is a plain GraphQL name of at most MAX_NAME_LENGTH characters, and it is one
of the first MAX_OPERATION_NAMES names this process has seen; every other operation (anonymous,
refused, or past the limit) is counted under OTHER. Error codes are bounded the same way. Each
process keeps its own counts: scrape every process (docs/operations.md).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from prometheus_client import Counter, Histogram
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

import service_logging

OTHER = "other"
MAX_OPERATION_NAMES = 100
MAX_ERROR_CODES = 50
MAX_NAME_LENGTH = 100
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")

REQUESTS = Counter(
    "invitations_graphql_requests_total",
    "GraphQL operations, by type and name (a subscription is counted when it ends).",
    ["type", "operation"],
)
SECONDS = Histogram(
    "invitations_graphql_request_seconds",
    "Time to run one GraphQL query or mutation, from the parse to the result.",
    ["type", "operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ERRORS = Counter(
    "invitations_graphql_errors_total",
    "Top-level GraphQL errors in answers, by extensions.code (NONE: without one).",
    ["code"],
)


class BoundedLabels:
    """The first `limit` distinct values that pass `pattern`; anything else is `other`."""

    def __init__(self, limit: int, pattern: re.Pattern[str], other: str) -> None:
        self.limit = limit
        self.pattern = pattern
        self.other = other
        self.known: set[str] = set()

    def __call__(self, value: str | None) -> str:
        if value is None:
            return self.other
        if value in self.known:
            return value
        if (
            len(self.known) >= self.limit
            or len(value) > MAX_NAME_LENGTH
            or not self.pattern.fullmatch(value)
        ):
            return self.other
        self.known.add(value)
        return value


OPERATION_NAMES = BoundedLabels(MAX_OPERATION_NAMES, _NAME, OTHER)
ERROR_CODES = BoundedLabels(MAX_ERROR_CODES, _CODE, "OTHER")

# The metrics' children of each (type, operation) label pair, as `.labels()` takes a lock and
# builds a key on every call. At most four types times MAX_OPERATION_NAMES + 1 names.
_children: dict[tuple[str, str], tuple[Any, Any]] = {}


def _of(kind: str, label: str) -> tuple[Any, Any]:
    children = _children.get((kind, label))
    if children is None:
        children = _children[kind, label] = (
            REQUESTS.labels(kind, label),
            SECONDS.labels(kind, label),
        )
    return children


def log_name(name: str | None) -> str | None:
    """The operation's name as its log lines carry it: a plain GraphQL name, else None."""
    return name if name and len(name) <= MAX_NAME_LENGTH and _NAME.fullmatch(name) else None


class OperationMetrics(SchemaExtension):
    """Counts and times each operation; first among the extensions, so it sees the final errors
    (its hook is left last)."""

    valid = False

    def on_validate(self) -> Iterator[None]:
        # Left after the validation rules and the authorization checks (schema.limits) have run;
        # later, execution's errors land in the same list.
        yield
        self.valid = not self.execution_context.pre_execution_errors

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        # The name the client sent, for the lines logged while the operation runs.
        provided = log_name(ctx.operation_name)
        if provided is not None:
            service_logging.name_operation(provided)
        started = time.perf_counter()
        raised: list[GraphQLError] | None = None
        try:
            yield
        except GraphQLError as error:  # a syntax error comes through the operation, raised
            raised = [error]
            raise
        finally:
            self._record(time.perf_counter() - started, named=provided is not None, raised=raised)

    def _record(self, seconds: float, *, named: bool, raised: list[GraphQLError] | None) -> None:
        ctx = self.execution_context
        document = ctx.graphql_document
        try:
            kind = ctx.operation_type.value if document is not None else "unknown"
        except RuntimeError:  # no operation of that name in the document
            kind = "unknown"
        name = ctx.operation_name if document is not None else None
        result = ctx.result
        errors = raised if raised is not None else result.errors if result is not None else None
        record(kind, name, valid=self.valid, seconds=seconds, named=named, errors=errors)


def record(
    kind: str,
    name: str | None,
    *,
    valid: bool,
    seconds: float,
    named: bool,
    errors: list[GraphQLError] | None,
) -> None:
    """Count and time one operation of `kind` (an OperationType's value, or "unknown") named
    `name`; `named`: its log lines already carry the name the client sent (`log_name`)."""
    logged = log_name(name)
    if not named and logged is not None:
        service_logging.name_operation(logged)
    label = OPERATION_NAMES(name if valid and kind != "unknown" else None)
    requests, latency = _of(kind, label)
    requests.inc()
    if kind != OperationType.SUBSCRIPTION.value:
        latency.observe(seconds)
    for error in errors or ():
        code = (error.extensions or {}).get("code")
        ERRORS.labels(ERROR_CODES(code) if isinstance(code, str) else "NONE").inc()
