"""What documents are accepted: the token limit, the validation rules, and the extension that
parses and validates each distinct document once under them.

Rules against documents built to be expensive run before the standard ones. Two shapes of
graphql-cop's probes pass the depth, alias and token limits:
- field duplication: the same field hundreds of times in one selection set. Execution merges them,
  but graphql-core's overlap check compares them pairwise first;
- directive overloading: hundreds of directives on one field, each answered by its own error.
No client needs either, so each is refused whole, with one error, as soon as it is seen.
(Circular introspection is refused by graphql-core's MaxIntrospectionDepthRule, which Strawberry
runs among the standard rules; batching is off in Strawberry's view.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from graphql import (
    ASTValidationRule,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    Node,
    SelectionSetNode,
    parse,
    specified_rules,
)
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from schema.authorization import Guards, guards, refusals

MAX_FIELD_REPEATS = 10
MAX_DIRECTIVES_PER_LOCATION = 5


def _refuse(message: str, node: Node) -> None:
    # Aborting stops the other rules from spending time (or errors) on the same document.
    raise ValidationAbortedError(message, [node])


class RepeatedFieldsRule(ASTValidationRule):
    """The same response key at most MAX_FIELD_REPEATS times in one selection set."""

    def enter_selection_set(self, node: SelectionSetNode, *_args: Any) -> None:
        keys = Counter(
            (s.alias or s.name).value for s in node.selections if isinstance(s, FieldNode)
        )
        if not keys:
            return
        key, count = keys.most_common(1)[0]
        if count > MAX_FIELD_REPEATS:
            _refuse(
                f"The field '{key}' is repeated {count} times in one selection set; "
                f"at most {MAX_FIELD_REPEATS} are allowed.",
                node,
            )


class DirectivesPerLocationRule(ASTValidationRule):
    """At most MAX_DIRECTIVES_PER_LOCATION directives on one field, fragment or operation."""

    def enter(self, node: Node, *_args: Any) -> None:
        directives: tuple[DirectiveNode, ...] | None = getattr(node, "directives", None)
        if directives and len(directives) > MAX_DIRECTIVES_PER_LOCATION:
            _refuse(
                f"{len(directives)} directives in one place; "
                f"at most {MAX_DIRECTIVES_PER_LOCATION} are allowed.",
                node,
            )


# Distinct documents kept parsed and validated, per schema (as Strawberry's caches would).
CACHED_DOCUMENTS = 1024

# A document, its validation errors, and (when it is valid) the guarded fields it selects.
Checked = tuple[DocumentNode, list[GraphQLError], Guards]
DocumentChecker = Callable[[GraphQLSchema, str], Checked]


def document_checker(
    *, max_tokens: int, rules: Sequence[type[ASTValidationRule]]
) -> DocumentChecker:
    """Parses a query text (at most `max_tokens` tokens) and validates it, remembering answers.

    Runs the shape rules above, graphql-core's standard rules, then `rules` (and Strawberry's own
    two, as it always does), and finds the guarded fields of a valid document
    (schema.authorization). A syntax error is raised, and not remembered.
    """
    all_rules: tuple[type[ASTValidationRule], ...] = (
        RepeatedFieldsRule,
        DirectivesPerLocationRule,
        *specified_rules,
        *rules,
    )

    @lru_cache(maxsize=CACHED_DOCUMENTS)
    def check(schema: GraphQLSchema, query: str) -> Checked:
        document = parse(query, max_tokens=max_tokens)
        errors = validate_document(schema, document, all_rules)
        return document, errors, {} if errors else guards(schema, document)

    return check


class CheckedDocuments(SchemaExtension):
    """Takes each operation's document and its validation errors from a `document_checker`, and
    refuses an operation that selects a field its principal may not read (schema.authorization).

    One extension in place of Strawberry's ParserCache, ValidationCache, AddValidationRules and
    MaxTokensLimiter: every extension costs every request a context manager per hook, and the
    four did one thing. The cache is keyed by the query text, which hashes in a microsecond; a
    parsed document takes several to hash.
    """

    def __init__(self, check: DocumentChecker) -> None:
        self.check = check

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        assert ctx.query is not None, "Strawberry parses only operations with a query"
        ctx.graphql_document, self.errors, self.guards = self.check(ctx.schema._schema, ctx.query)
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        # The principal varies from request to request of one document: asked each time.
        operation_guards = self.guards.get(ctx.operation_name, ())
        errors = self.errors or refusals(operation_guards, ctx.context)
        ctx.pre_execution_errors = errors
        yield
