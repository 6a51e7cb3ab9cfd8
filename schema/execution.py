"""A shorter path through graphql-core for the commonest field: an attribute holding a scalar.

On a page of rows most fields are plain attributes (an id, an e-mail, a date, a status), and
graphql-core spends more on each one's bookkeeping (its resolve info, awaitable checks, the walk
through its non-null and leaf types) than on the value. Such a field is recognised once per field
definition: a Strawberry field without resolver, permission or extension, whose type is a scalar
or an enum. It is read and coerced directly; anything out of the ordinary (a missing attribute, a
null where none is allowed, a value the type refuses, an exception) takes the standard path, which
reports it exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
)
from graphql.execution.executor import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

# (attribute name, the type's output coercion, whether null is allowed)
LeafPlan = tuple[str, Callable[[Any], Any], bool]
_MISSING = object()
_plans: WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], LeafPlan | None]] = (
    WeakKeyDictionary()
)


def _plan(schema: GraphQLSchema, parent_type: GraphQLObjectType, name: str) -> LeafPlan | None:
    field_def = schema.get_field(parent_type, name)
    if field_def is None or not getattr(field_def.resolve, "_is_default", False):
        return None
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None or definition.default_resolver is not getattr:
        return None
    field_type = field_def.type
    nullable = not isinstance(field_type, GraphQLNonNull)
    leaf = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if not isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
        return None
    return definition.python_name, leaf.coerce_output_value, nullable


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with the short path for plain leaf fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plans = _plans.get(self.schema)
        if plans is None:
            plans = _plans[self.schema] = {}
        self._leaf_plans = plans

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        plans = self._leaf_plans
        key = (parent_type.name, field_details_list[0].node.name.value)
        try:
            plan = plans[key]
        except KeyError:
            plan = plans[key] = _plan(self.schema, parent_type, key[1])
        # (Strawberry always passes a middleware manager; it is empty unless an extension has a
        # `resolve` hook, which then must see every field.)
        middleware = self.middleware_manager
        if plan is not None and (middleware is None or not middleware.middlewares):
            attribute, coerce, nullable = plan
            value = getattr(source, attribute, _MISSING)
            if value is None:
                if nullable:
                    return None
            elif value is not _MISSING and not isinstance(value, BaseException):
                try:
                    coerced = coerce(value)
                except Exception:  # noqa: S110 (the standard path reports it)
                    pass
                else:
                    if coerced is not None and coerced is not Undefined:
                        return coerced
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
