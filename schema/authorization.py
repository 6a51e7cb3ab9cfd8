"""Authorization before execution: an operation that selects a field its principal may not read
is refused whole, before any resolver runs (a mutation then writes nothing).

The rules are the permission classes declared on the fields (schema.permissions), read from the
schema: there is no second list. Which guarded fields an operation selects depends on its
document alone, and is worked out once per document (schema.limits keeps it with the parsed
document); whether the principal passes them is asked at each request, a few calls.

An operation selects a field when the field appears in it or in a fragment it spreads, whatever
its directives and type conditions: a field under `@skip(if: $x)`, or in a fragment on a type
the result may never hold, is refused too. Permission classes that ask more than who the
principal is (the object, the arguments) are not tried here; Strawberry runs them at the field.
Strawberry still runs every permission class at its field, as before.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    Node,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    visit,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter

from schema.context import Context
from schema.errors import ClientError
from schema.permissions import PrincipalPermission


class Guard(NamedTuple):
    """A guarded field that an operation selects: where it first appears, and its rules."""

    coordinate: str  # "Invitation.delivery"
    node: FieldNode
    permissions: tuple[PrincipalPermission, ...]


# The guards of each operation of a document, by the operation's name (None: anonymous).
Guards = dict[str | None, tuple[Guard, ...]]


def _permissions(field_extensions: dict[str, Any] | None) -> tuple[PrincipalPermission, ...]:
    definition = (field_extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None:
        return ()  # introspection's fields and __typename
    return tuple(
        permission()
        for permission in definition.permission_classes
        if issubclass(permission, PrincipalPermission)
    )


class _Collector(Visitor):
    """The guarded fields of one definition (an operation or a fragment), and its spreads."""

    def __init__(self, type_info: TypeInfo, found: dict[str, Guard], spreads: list[str]) -> None:
        super().__init__()
        self.type_info = type_info
        self.found = found
        self.spreads = spreads

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        parent = self.type_info.get_parent_type()
        field = self.type_info.get_field_def()
        if parent is None or field is None:
            return
        coordinate = f"{parent.name}.{node.name.value}"
        if coordinate not in self.found and (permissions := _permissions(field.extensions)):
            self.found[coordinate] = Guard(coordinate, node, permissions)

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_args: Any) -> None:
        self.spreads.append(node.name.value)


def _walk(schema: GraphQLSchema, definition: Node, found: dict[str, Guard]) -> list[str]:
    spreads: list[str] = []
    type_info = TypeInfo(schema)
    visit(definition, TypeInfoVisitor(type_info, _Collector(type_info, found, spreads)))
    return spreads


def guards(schema: GraphQLSchema, document: DocumentNode) -> Guards:
    """The guarded fields each operation of a valid document selects."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    by_operation: Guards = {}
    for operation in document.definitions:
        if not isinstance(operation, OperationDefinitionNode):
            continue
        found: dict[str, Guard] = {}
        pending = _walk(schema, operation, found)
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name not in seen and name in fragments:
                seen.add(name)
                pending += _walk(schema, fragments[name], found)
        by_operation[operation.name.value if operation.name else None] = tuple(found.values())
    return by_operation


def refusals(operation_guards: tuple[Guard, ...], context: Context) -> list[GraphQLError]:
    """Why the principal may not run the operation (empty: it may): one error per reason, at the
    first field that gives it (the fields below a refused one mostly repeat it)."""
    errors: list[GraphQLError] = []
    reasons: set[str] = set()
    for guard in operation_guards:
        for permission in guard.permissions:
            try:
                permission.authorize(context)
            except ClientError as refused:
                if refused.message in reasons:
                    break
                reasons.add(refused.message)
                errors.append(
                    GraphQLError(
                        f"{refused.message} (field {guard.coordinate})",
                        nodes=[guard.node],
                        extensions=refused.extensions,
                    )
                )
                break
    return errors
