"""Validation rules against documents built to be expensive, run before the standard ones.

Two shapes of graphql-cop's probes pass the depth, alias and token limits:
- field duplication: the same field hundreds of times in one selection set. Execution merges them,
  but graphql-core's overlap check compares them pairwise first;
- directive overloading: hundreds of directives on one field, each answered by its own error.
No client needs either, so each is refused whole, with one error, as soon as it is seen.
(Circular introspection is refused by graphql-core's MaxIntrospectionDepthRule, which Strawberry
runs among the standard rules; batching is off in Strawberry's view.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from graphql import (
    ASTValidationRule,
    DirectiveNode,
    FieldNode,
    Node,
    SelectionSetNode,
)
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension

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


class DocumentShapeLimits(SchemaExtension):
    """Runs the rules above ahead of the standard validation rules."""

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        ctx.validation_rules = (
            RepeatedFieldsRule,
            DirectivesPerLocationRule,
            *ctx.validation_rules,
        )
        yield
