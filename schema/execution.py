"""A shorter path through graphql-core for plain data: attributes holding scalars, objects, lists.

On a page of rows most fields are plain attributes (an id, an e-mail, a date, a status; an edge's
cursor and node), and graphql-core spends more on each one's bookkeeping (a path, resolve info,
awaitable checks, the walk through its non-null, list and object types) than on the value.

A *plain* field is a Strawberry field without resolver, permission or extension (it reads one
attribute and has no arguments), whose type is a scalar or an enum, an object type without
`is_type_of`, or a list of either. It is recognised once per field definition. So is a
*prefetched* field (schema.prefetch): one without arguments whose resolver reads an attribute
that a page resolver may have filled beforehand; the short path reads that attribute, and leaves
the field to its resolver when it holds NOT_LOADED. A prefetched field may carry permission
classes that ask only who the principal is (schema.permissions.PrincipalPermission, Strawberry's
PermissionExtension and no other extension): the short path asks them once per field and request,
as the first row would, and leaves the field to the standard path (which raises as before) when
they refuse; the rows after the first would get the same answer, the principal being the
request's. When such a field
is executed and everything it selects is plain too (its sub-fields, theirs, and `__typename`; as
graphql-core collected them, so fragments, aliases and `@skip`/`@include` are already applied),
its whole value is completed in one tight loop: for a page, the list of edges with their cursors
and nodes at once. Anything out of the ordinary (a missing attribute, a null where none is
allowed, a value its type refuses, an exception, an iterable that is not a list) abandons the
short path for that field, and the standard path completes it again from the start: reading
plain attributes has no side effects, and the standard path reports the problem exactly as before.

The short path is not taken where graphql-core would do more than read and coerce: under
middleware (an extension with a `resolve` hook must see every field), inside `@defer`red work,
and for object and list fields carrying a directive (`@stream` among them) or selecting one.

What a document selects is worked out on its first request and kept with the operation while
the document has no directive (its selections cannot then depend on variables); otherwise for
the request only.

A fence around library internals: this module alone subclasses Strawberry's execution context
(`StrawberryGraphQLCoreExecutionContext`, not exported; strawberry-graphql 0.341.2) and overrides
graphql-core's executor (`execute_field`, `collect_subfields`, `FieldDetailsList`,
`CollectedFields`; graphql-core 3.3.2), both pinned in pyproject.toml. tests/schema/
test_execution.py compares every answer with the standard path's and fails on another version.
INVITATIONS_FAST_EXECUTION=false (config.py) leaves this module out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from functools import partial
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary, proxy

from graphql import (
    FragmentDefinitionNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfoHelpers,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    Undefined,
)
from graphql.execution.collect_fields import CollectedFields
from graphql.execution.executor import FieldDetailsList
from graphql.pyutils import Path
from strawberry.permission import PermissionExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from schema.permissions import PrincipalPermission
from schema.prefetch import NOT_LOADED, PREFETCHED

# The kinds of a plain value: what the tight loop does with it.
LEAF, OBJECT, LIST, TYPENAME = range(4)


# A field's permission classes that ask only who the principal is, with its coordinate.
Guard = tuple[str, tuple[PrincipalPermission, ...]]
Guards = tuple[Guard, ...]


class FieldPlan(NamedTuple):
    """How to read one plain field of one object type (the same for every document)."""

    attribute: str
    nullable: bool
    kind: int  # LEAF, OBJECT or LIST
    # LEAF: a Leaf; OBJECT: the object type; LIST: the item's FieldPlan (`attribute` unused).
    target: Any
    guard: Guard | None = None


# How to complete a leaf: its type's output coercion; the Python type whose values the coercion
# returns unchanged (str for String and ID, bool for Boolean) or None; for an enum type, the
# names of the members met so far.
Leaf = tuple[Callable[[Any], Any], type | None, dict[Any, Any] | None]


# One selected field as the loop reads it: (response key, attribute, nullable, kind, target),
# where target is a LEAF's Leaf, an OBJECT's selection, a LIST's item (kind, nullable,
# target), or TYPENAME's constant.
Selected = tuple[str, str, bool, int, Any]
Selection = tuple[Selected, ...]

_plans: WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], FieldPlan | None]] = (
    WeakKeyDictionary()
)

# A selection is known by its object type and the ids of its field nodes.
SelectionKey = tuple[str, tuple[int, ...]]


class Selections(NamedTuple):
    """What an operation selects below its root fields, worked out as requests need it."""

    # graphql-core's collected sub-fields of an object field
    collected: dict[SelectionKey, CollectedFields]
    # the short path's view of a plain object field, and the guards of every field below it
    # (None: not all plain)
    plain: dict[SelectionKey, tuple[Selection, Guards] | None]


# Operations whose selections are kept for their next requests, per schema (the oldest go first),
# by the operation's id, with the operation and its fragments so that the ids stay theirs.
KNOWN_OPERATIONS = 256
KnownOperation = tuple[OperationDefinitionNode, tuple[FragmentDefinitionNode, ...], Selections]
_operations: WeakKeyDictionary[GraphQLSchema, dict[int, KnownOperation]] = WeakKeyDictionary()


# Types of values found to be neither exceptions nor awaitables.
_DATA_TYPES: set[type] = set()


class _Irregular(Exception):
    """A value the short path leaves to the standard one."""


def _value_plan(field_type: GraphQLOutputType, attribute: str) -> FieldPlan | None:
    nullable = not isinstance(field_type, GraphQLNonNull)
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
        return FieldPlan(attribute, nullable, LEAF, _leaf_plan(inner))
    if isinstance(inner, GraphQLObjectType):
        return FieldPlan(attribute, nullable, OBJECT, inner) if inner.is_type_of is None else None
    if isinstance(inner, GraphQLList):
        item = _value_plan(inner.of_type, attribute)
        return FieldPlan(attribute, nullable, LIST, item) if item and item.kind != LIST else None
    return None  # interfaces and unions: the standard path resolves their runtime type


def _plan(schema: GraphQLSchema, parent_type: GraphQLObjectType, name: str) -> FieldPlan | None:
    field_def = schema.get_field(parent_type, name)
    if field_def is None or field_def.args:
        return None
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None:
        return None
    attribute = (definition.metadata or {}).get(PREFETCHED)
    if attribute is None:
        # `is_basic_field`: no resolver and no field extension (permission classes are one).
        if (
            not definition.is_basic_field
            or definition.default_resolver is not getattr
            or not getattr(field_def.resolve, "_is_default", False)
        ):
            return None
        attribute = definition.python_name
    permissions: list[PrincipalPermission] = []
    for extension in definition.extensions:
        if type(extension) is not PermissionExtension:
            return None
        for permission in extension.permissions:
            if not isinstance(permission, PrincipalPermission):
                return None
            permissions.append(permission)
    plan = _value_plan(field_def.type, attribute)
    if plan is None or not permissions:
        return plan
    return plan._replace(guard=(f"{parent_type.name}.{name}", tuple(permissions)))


def _leaf_plan(leaf_type: GraphQLScalarType | GraphQLEnumType) -> Leaf:
    verbatim: type | None = None
    if leaf_type is GraphQLString or leaf_type is GraphQLID:
        verbatim = str
    elif leaf_type is GraphQLBoolean:
        verbatim = bool
    memo: dict[Any, Any] | None = {} if isinstance(leaf_type, GraphQLEnumType) else None
    return leaf_type.coerce_output_value, verbatim, memo


def _is_data(value: Any) -> bool:
    # The standard path raises an exception and awaits an awaitable; an ID would turn either
    # into text. Which a value is depends on its type alone, so each type is checked once.
    if isinstance(value, BaseException | Awaitable) or value is NOT_LOADED:
        return False
    _DATA_TYPES.add(type(value))
    return True


def _coerce(leaf: Leaf, value: Any) -> Any:
    """A leaf's value as the standard path completes it; _Irregular where that would fail."""
    coerce, verbatim, memo = leaf
    if type(value) is verbatim:
        return value
    if memo is not None and isinstance(value, Enum):
        try:
            return memo[value]
        except KeyError:
            pass
    if type(value) not in _DATA_TYPES and not _is_data(value):
        raise _Irregular
    coerced = coerce(value)
    if coerced is None or coerced is Undefined:
        raise _Irregular
    if memo is not None and isinstance(value, Enum):
        memo[value] = coerced  # an enum type's coercion names each member the same every time
    return coerced


def _complete(selection: Selection, source: Any) -> dict[str, Any]:
    """The response of one object: every selected field is plain (see the module docstring)."""
    if type(source) not in _DATA_TYPES and not _is_data(source):
        raise _Irregular
    data: dict[str, Any] = {}
    for key, attribute, nullable, kind, target in selection:
        if kind == TYPENAME:
            data[key] = target
            continue
        value = getattr(source, attribute)
        if value is None:
            if not nullable:
                raise _Irregular
            data[key] = None
        elif kind == LEAF:
            data[key] = value if type(value) is target[1] else _coerce(target, value)
        elif kind == OBJECT:
            data[key] = _complete(target, value)
        else:
            data[key] = _complete_list(target, value)
    return data


def _complete_list(item: tuple[int, bool, Any], value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):  # other iterables may be lazy or asynchronous
        raise _Irregular
    kind, nullable, target = item
    items: list[Any] = []
    append = items.append
    for element in value:
        if element is None:
            if not nullable:
                raise _Irregular
            append(None)
        elif kind == LEAF:
            append(element if type(element) is target[1] else _coerce(target, element))
        else:
            append(_complete(target, element))
    return items


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with the short path for plain fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core's helpers are bound methods of the executor, stored on it: a cycle that
        # keeps each request's executor, context and collected fields alive until the garbage
        # collector runs (about every fifth request, with 32 requests' objects to walk). The
        # same methods through a weak proxy leave no cycle; the executor outlives its work.
        executor = proxy(self)
        self.async_helpers = GraphQLResolveInfoHelpers(
            gather=partial(type(self).gather_async_work, executor),
            track=partial(type(self).track_async_work, executor),
        )
        plans = _plans.get(self.schema)
        if plans is None:
            plans = _plans[self.schema] = {}
        self._field_plans = plans
        shared = self._operation_selections()
        self._shared = shared is not None
        self._selections = shared if shared is not None else Selections({}, {})
        # Field lists whose ids key this request's own selections: kept alive, the ids stay theirs.
        self._kept: list[FieldDetailsList] = []
        # The guards (by coordinate) the principal was found to pass in this request.
        self._authorized: set[str] = set()

    def _operation_selections(self) -> Selections | None:
        """The selections kept for every request of this operation, if it has no directive (no
        `@` in its text); None when this request must work out its own.

        Which fields graphql-core collects depends on the variables only through directives
        (@skip, @include, @defer); without them the same document selects the same every time.
        """
        operation = self.operation
        if operation.loc is None or "@" in operation.loc.source.body:
            return None
        known = _operations.get(self.schema)
        if known is None:
            known = _operations[self.schema] = {}
        entry = known.get(id(operation))
        if entry is None or entry[0] is not operation:
            if len(known) >= KNOWN_OPERATIONS:
                del known[next(iter(known))]  # the oldest
            # The entry holds the operation and its fragments: the ids in its keys stay theirs.
            fragments = tuple(self.fragment_definitions.values())
            entry = known[id(operation)] = (operation, fragments, Selections({}, {}))
        return entry[2]

    def _key(self, object_type: GraphQLObjectType, fields: FieldDetailsList) -> SelectionKey:
        if self._shared:
            return object_type.name, tuple([id(details.node) for details in fields])
        # With directives, the same nodes may be collected with other defer usages: as
        # graphql-core memoizes, by the field list.
        return object_type.name, (id(fields),)

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> CollectedFields:
        if not self._shared:
            return super().collect_subfields(return_type, field_details_list)
        key = self._key(return_type, field_details_list)
        collected = self._selections.collected
        try:
            return collected[key]
        except KeyError:
            fields = collected[key] = super().collect_subfields(return_type, field_details_list)
            return fields

    def _field_plan(self, parent_type: GraphQLObjectType, name: str) -> FieldPlan | None:
        plans = self._field_plans
        key = (parent_type.name, name)
        try:
            return plans[key]
        except KeyError:
            plan = plans[key] = _plan(self.schema, parent_type, name)
            return plan

    def _selection(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> tuple[Selection, Guards] | None:
        """What a plain object field selects, when all of it is plain, and the guards of the
        fields below it; else None."""
        key = self._key(object_type, field_details_list)
        plain = self._selections.plain
        try:
            return plain[key]
        except KeyError:
            selection = plain[key] = self._build_selection(object_type, field_details_list)
            if not self._shared:
                self._kept.append(field_details_list)
            return selection

    def _build_selection(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> tuple[Selection, Guards] | None:
        grouped, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return None
        selection: list[Selected] = []
        guards: dict[str, Guard] = {}
        for key, details in grouped.items():
            if any(d.defer_usage is not None or d.node.directives for d in details):
                return None
            name = details[0].node.name.value
            if name == "__typename":
                selection.append((key, name, False, TYPENAME, object_type.name))
                continue
            plan = self._field_plan(object_type, name)
            if plan is None:
                return None
            found = self._target(plan, details)
            if found is None:
                return None
            target, below = found
            selection.append((key, plan.attribute, plan.nullable, plan.kind, target))
            if plan.guard is not None:
                guards[plan.guard[0]] = plan.guard
            guards.update((guard[0], guard) for guard in below)
        return tuple(selection), tuple(guards.values())

    def _target(
        self, plan: FieldPlan, field_details_list: FieldDetailsList
    ) -> tuple[Any, Guards] | None:
        """What the loop needs for one plain field in this document, and the guards below it;
        None if not all plain."""
        if plan.kind == LEAF:
            return plan.target, ()
        if plan.kind == OBJECT:
            return self._selection(plan.target, field_details_list)
        item: FieldPlan = plan.target
        found = self._target(item, field_details_list)
        if found is None:
            return None
        return (item.kind, item.nullable, found[0]), found[1]

    def _allowed(self, guards: Guards) -> bool:
        """Whether the principal passes every guard (each asked once per request)."""
        for guard in guards:
            if guard[0] in self._authorized:
                continue
            try:
                for permission in guard[1]:
                    permission.authorize(self.context_value)
            except Exception:
                return False  # the standard path raises it where the field is
            self._authorized.add(guard[0])
        return True

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        plan = self._field_plan(parent_type, field_details_list[0].node.name.value)
        # (Strawberry always passes a middleware manager; it is empty unless an extension has a
        # `resolve` hook, which then must see every field. A position context means @defer.)
        middleware = self.middleware_manager
        if (
            plan is not None
            and position_context is None
            and (middleware is None or not middleware.middlewares)
            and (plan.guard is None or self._allowed((plan.guard,)))
        ):
            try:
                if plan.kind == LEAF:
                    value = getattr(source, plan.attribute)
                    if value is None:
                        if plan.nullable:
                            return None
                        raise _Irregular
                    return _coerce(plan.target, value)
                found = self._target(plan, field_details_list)
                if (
                    found is not None
                    and not any(d.node.directives for d in field_details_list)
                    and self._allowed(found[1])
                ):
                    target = found[0]
                    value = getattr(source, plan.attribute)
                    if value is None:
                        if plan.nullable:
                            return None
                        raise _Irregular
                    if plan.kind == OBJECT:
                        return _complete(target, value)
                    return _complete_list(target, value)
            except Exception:  # noqa: S110 (the standard path reports it)
                pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
