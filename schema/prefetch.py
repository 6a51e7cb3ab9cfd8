"""Relations loaded with a page, and read back without a resolver call per row.

A page of rows whose relations are loaded one DataLoader call per row and field costs a coroutine,
a future and a resolver call for each; a page resolver that knows what the operation selects
(`selected`) can load them beforehand, a query per table, and hand them to its rows. A field that
reads such a relation is declared with `metadata=prefetched("attribute")`: its resolver still
serves every other path (it reads the attribute when it holds a value, and loads otherwise), and
schema.execution reads the attribute directly when it is set (anything but NOT_LOADED), with the
rest of the row, in one loop.
"""

from __future__ import annotations

from typing import Any, Final

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from schema.context import Info

# The key of a field's metadata naming the attribute that may hold its value already.
PREFETCHED: Final = "invitations.prefetched"


class _NotLoaded:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_LOADED"


# What a prefetched attribute holds while its value was not loaded with the page.
NOT_LOADED: Final[Any] = _NotLoaded()


def prefetched(attribute: str) -> dict[str, str]:
    """The metadata of a field whose value may already sit in `attribute` (see the docstring)."""
    return {PREFETCHED: attribute}


# By the field nodes' ids, with the nodes (so that the ids stay theirs): the answer of `selected`.
_known: dict[
    tuple[tuple[int, ...], tuple[tuple[str, ...], ...]],
    tuple[tuple[FieldNode, ...], frozenset[str]],
] = {}
KNOWN_SELECTIONS = 256


def selected(info: Info, *paths: tuple[str, ...]) -> frozenset[str]:
    """The names of the fields selected at the end of any of `paths` below the current field
    (e.g. ("edges", "node")), through fragments and whatever their directives: what a resolver
    may load beforehand, never what the response holds."""
    raw = info._raw_info
    nodes = tuple(raw.field_nodes)
    key = (tuple([id(node) for node in nodes]), paths)
    entry = _known.get(key)
    if entry is not None and all(a is b for a, b in zip(entry[0], nodes, strict=True)):
        return entry[1]
    names: set[str] = set()
    for path in paths:
        sets = [node.selection_set for node in nodes if node.selection_set is not None]
        for step in path:
            sets = [
                field.selection_set
                for selection_set in sets
                for field in _fields(selection_set, raw.fragments, set())
                if field.name.value == step and field.selection_set is not None
            ]
        names.update(
            field.name.value
            for selection_set in sets
            for field in _fields(selection_set, raw.fragments, set())
        )
    answer = frozenset(names)
    if len(_known) >= KNOWN_SELECTIONS:
        del _known[next(iter(_known))]  # the oldest
    _known[key] = (nodes, answer)
    return answer


def _fields(
    selection_set: SelectionSetNode, fragments: dict[str, Any], seen: set[str]
) -> list[FieldNode]:
    found: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found += _fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name not in seen and name in fragments:
                seen.add(name)
                found += _fields(fragments[name].selection_set, fragments, seen)
    return found
