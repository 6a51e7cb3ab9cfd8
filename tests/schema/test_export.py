"""The committed schema export matches the code, and the code matches the API contract."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    print_ast,
)
from graphql.utilities.get_default_value_ast import get_default_value_ast

from api.schema import build_schema as build_our_schema
from config import Settings

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "contract" / "schema.graphql"

# Contract names (fields, and values of enums we have) that later issues implement. The list only
# shrinks: a name implemented while still listed fails the test, so it must be removed from here
# in the same change.
PENDING: set[str] = set()


def _ours() -> GraphQLSchema:
    return build_our_schema(Settings(secret_key="x" * 40))._schema


def test_committed_export_matches_the_code() -> None:
    exported = build_our_schema(Settings(secret_key="x" * 40)).as_str() + "\n"

    committed = (ROOT / "schema.graphql").read_text()

    assert committed == exported, "schema.graphql is stale: run `make schema` and commit it"


def _contract() -> GraphQLSchema:
    if not CONTRACT.exists():
        pytest.fail(f"the API contract is missing at {CONTRACT}")
    return build_schema(CONTRACT.read_text())


def _default(arg_or_field: GraphQLArgument | GraphQLInputField) -> str | None:
    """The default as printed in SDL: a parsed schema keeps it as a literal, ours as a value.

    `= null` on a nullable input reads like no default to a client, so the two count as equal.
    """
    literal = get_default_value_ast(arg_or_field)
    printed = None if literal is None else print_ast(literal)
    return None if printed == "null" else printed


def _reachable_names(ours: GraphQLSchema) -> set[str]:
    names: set[str] = set()
    for name, kind in ours.type_map.items():
        names.add(name)
        if isinstance(kind, GraphQLObjectType | GraphQLInputObjectType):
            names.update(f"{name}.{field}" for field in kind.fields)
    return names


def test_every_contract_name_in_the_code_matches_the_contract() -> None:
    contract, ours = _contract(), _ours()
    mismatches: list[str] = []
    for name, theirs in contract.type_map.items():
        if name.startswith("__") or name not in ours.type_map:
            continue
        mine = ours.type_map[name]
        if not isinstance(mine, type(theirs)):
            mismatches.append(f"{name}: {type(mine).__name__} instead of {type(theirs).__name__}")
            continue
        if isinstance(theirs, GraphQLEnumType):
            missing = set(theirs.values) - set(mine.values)  # type: ignore[attr-defined]
            missing -= {value for value in missing if f"{name}.{value}" in PENDING}
            mismatches += [f"{name}.{value} missing" for value in sorted(missing)]
        if isinstance(theirs, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in theirs.fields.items():
                my_field = mine.fields.get(field_name)  # type: ignore[attr-defined]
                if my_field is None:
                    continue
                if str(my_field.type) != str(field.type):
                    mismatches.append(f"{name}.{field_name}: {my_field.type} != {field.type}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    my_arg = my_field.args.get(arg_name)
                    if my_arg is None:
                        mismatches.append(f"{name}.{field_name}({arg_name}) missing")
                    elif str(my_arg.type) != str(arg.type) or _default(my_arg) != _default(arg):
                        mismatches.append(f"{name}.{field_name}({arg_name}) differs")
                if isinstance(theirs, GraphQLInputObjectType) and (
                    _default(my_field) != _default(field)
                ):
                    mismatches.append(f"{name}.{field_name} default differs")
    assert mismatches == []


def test_only_pending_contract_names_are_missing() -> None:
    """Every contract field (and enum value) of every type we have exists, unless it is pending.

    Contract types that only pending fields lead to are absent with them.
    """
    contract, ours = _contract(), _ours()
    have = _reachable_names(ours)
    missing = {root for root in ("Query", "Mutation", "Subscription") if root not in have}
    for name, theirs in contract.type_map.items():
        if name in have and isinstance(theirs, GraphQLObjectType | GraphQLInputObjectType):
            missing.update(f"{name}.{f}" for f in theirs.fields if f"{name}.{f}" not in have)
        mine = ours.type_map.get(name)
        if isinstance(theirs, GraphQLEnumType) and isinstance(mine, GraphQLEnumType):
            missing.update(f"{name}.{value}" for value in set(theirs.values) - set(mine.values))

    assert missing - PENDING == set(), "implement these contract names or list them as pending"
    assert PENDING - missing == set(), "these are implemented now: remove them from PENDING"
