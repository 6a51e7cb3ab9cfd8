"""The short path for plain fields answers exactly as graphql-core's standard path."""

from __future__ import annotations

import enum
import gc
import importlib.metadata
import inspect
import weakref
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import pytest
import strawberry
from graphql import Executor, FieldNode, GraphQLField, GraphQLObjectType, GraphQLResolveInfo
from graphql.pyutils import Path
from strawberry.permission import BasePermission

from api.schema import build_schema
from app import create_app
from config import Settings
from models.invitation import InvitationStatus
from schema import execution
from schema.errors import Forbidden
from schema.execution import ExecutionContext
from schema.permissions import PrincipalPermission
from schema.prefetch import NOT_LOADED, prefetched
from tests.helpers import GraphQLClient, admin_token, make_admin, make_customer
from tests.invitation_factories import make_invitation


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"


class Never(BasePermission):
    message = "Not for you."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


class Asked(PrincipalPermission):
    """Asks only who the principal is (here: the context's "allowed"), and counts the asking."""

    asked: ClassVar[int] = 0

    def authorize(self, context: Any) -> None:
        Asked.asked += 1
        if not context.get("allowed"):
            raise Forbidden("Not allowed.")


@strawberry.type
class Friend:
    name: str


@strawberry.type
class Row:
    id: strawberry.ID
    name: str
    note: str | None
    count: int
    at: datetime
    colour: Colour
    secret: str = strawberry.field(default="hidden", permission_classes=[Never])
    # What a page resolver loaded beforehand (schema.prefetch), else NOT_LOADED.
    loaded_friend: strawberry.Private[Any] = NOT_LOADED

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field(metadata=prefetched("loaded_friend"))
    async def friend(self) -> Friend | None:
        if self.loaded_friend is not NOT_LOADED:
            return self.loaded_friend  # type: ignore[no-any-return]
        return Friend(name="loaded by the resolver")

    @strawberry.field(metadata=prefetched("loaded_friend"), permission_classes=[Asked])
    async def guarded_friend(self) -> Friend:
        if self.loaded_friend is not NOT_LOADED:
            return self.loaded_friend  # type: ignore[no-any-return]
        return Friend(name="loaded by the resolver")


@strawberry.type
class Edge:
    cursor: str
    node: Row


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Page:
    edges: list[Edge]
    nodes: list[Row]
    tags: list[str]
    maybe_rows: list[Row | None] | None
    page_info: PageInfo


GOOD = Row(
    id=strawberry.ID("1"),
    name="Åsa",
    note=None,
    count=3,
    at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    colour=Colour.RED,
)
OTHER = Row(**{**GOOD.__dict__, "id": strawberry.ID("2"), "note": "hello"})


class Eventually:
    """An awaitable that is not a coroutine: the standard path awaits it."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[None, None, Any]:
        return self.value
        yield  # a generator: awaiting it returns the value at once


def row(**changes: Any) -> Row:
    return Row(**{**GOOD.__dict__, **changes})


# What the standard path refuses: a null where none is allowed, a value an Int cannot hold,
# a string where an enum is expected, an exception as a value.
ROWS: dict[str, list[Any]] = {
    "good": [GOOD, OTHER],
    "null": [GOOD, row(name=None)],
    "not an int": [row(count="three")],
    "too big": [row(count=2**40)],
    "not a colour": [row(colour="green")],
    "exception": [row(note=ValueError("boom"))],
    "exception as id": [row(id=ValueError("boom"))],
    "awaitable id": [row(id=Eventually("7"))],
    "int as id": [row(id=7)],
    "bool as int": [row(count=True)],
    "colour by value": [row(colour="red")],
    "colour by name": [row(colour="RED")],
    "prefetched": [row(loaded_friend=Friend(name="Bo")), row(loaded_friend=Friend(name="Li"))],
    "prefetched null": [row(loaded_friend=None)],
    "prefetched and not": [row(loaded_friend=Friend(name="Bo")), GOOD],
    "prefetched not a friend": [row(loaded_friend="Bo")],
    "missing attribute": [object()],
    "exception as row": [GOOD, ValueError("boom")],
    "null row": [GOOD, None],
}


def page(which: str) -> Page:
    rows = ROWS[which]
    edges = [Edge(cursor=f"c{i}", node=r) for i, r in enumerate(rows)]
    return Page(
        edges=edges,
        nodes=rows,
        tags=["a", "b"],
        maybe_rows=[*rows, None],
        page_info=PageInfo(has_next_page=False, end_cursor="c1"),
    )


# Shapes of values the short path leaves alone, or must refuse on the way.
PAGES: dict[str, Any] = {
    "rows as a tuple": lambda: Page(**{**page("good").__dict__, "nodes": (GOOD, OTHER)}),
    "rows as a generator": lambda: Page(**{**page("good").__dict__, "nodes": iter([GOOD])}),
    "null page info": lambda: Page(**{**page("good").__dict__, "page_info": None}),
    "null edge": lambda: Page(**{**page("good").__dict__, "edges": [None]}),
    "null tag": lambda: Page(**{**page("good").__dict__, "tags": ["a", None]}),
    "null list": lambda: Page(**{**page("good").__dict__, "maybe_rows": None}),
    "awaitable page info": lambda: Page(
        **{**page("good").__dict__, "page_info": Eventually(page("good").page_info)}
    ),
}


@strawberry.type
class Query:
    @strawberry.field
    def page(self, which: str) -> Page:
        return PAGES[which]() if which in PAGES else page(which)

    @strawberry.field
    async def gathered(self, info: strawberry.Info) -> list[int]:
        async def number(n: int) -> int:
            return n

        helpers = info._raw_info.async_helpers
        return list(await helpers.gather([number(1), number(2)]))


NODE_FIELDS = "id name note count at colour"
DOCUMENTS = {
    "page": f"""query ($which: String!) {{ page(which: $which) {{
        edges {{ cursor node {{ {NODE_FIELDS} }} }}
        nodes {{ {NODE_FIELDS} }} tags maybeRows {{ id note }}
        pageInfo {{ hasNextPage endCursor }} }} }}""",
    "typename, aliases, fragments": """query ($which: String!) { page(which: $which) {
        __typename
        first: edges { cursor n: node { __typename ...RowFields ... on Row { alias: id } } }
        again: edges { node { name } }
        pageInfo { ... { hasNextPage } end: endCursor } } }
        fragment RowFields on Row { id name colour count count }""",
    "a field with a resolver": """query ($which: String!) { page(which: $which) {
        edges { cursor node { id shout } } } }""",
    "a permission on a plain field": """query ($which: String!) { page(which: $which) {
        nodes { id secret } } }""",
    "prefetched fields": """query ($which: String!) { page(which: $which) {
        edges { cursor node { id friend { name } } } nodes { friend { __typename name } } } }""",
    "a guarded prefetched field": """query ($which: String!) { page(which: $which) {
        edges { node { id guardedFriend { name } } } nodes { guardedFriend { name } } } }""",
    "skip and include": """query ($which: String!, $yes: Boolean = true, $no: Boolean = false)
        { page(which: $which) {
        edges { cursor @skip(if: $yes) node { id name @include(if: $no) note @include(if: $yes) } }
        nodes @include(if: $yes) { id @skip(if: $no) } tags @skip(if: $yes) } }""",
}


class Recording(ExecutionContext):
    """Records each field the standard path resolves (it builds resolve info for each)."""

    resolved: ClassVar[list[str]] = []
    last: ClassVar[weakref.ref[ExecutionContext] | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        Recording.last = weakref.ref(self)

    def build_resolve_info(
        self,
        field_def: GraphQLField,
        field_nodes: list[FieldNode],
        parent_type: GraphQLObjectType,
        path: Path,
    ) -> GraphQLResolveInfo:
        Recording.resolved.append(f"{parent_type.name}.{field_nodes[0].name.value}")
        return super().build_resolve_info(field_def, field_nodes, parent_type, path)


STANDARD = strawberry.Schema(query=Query)
SHORT = strawberry.Schema(query=Query, execution_context_class=Recording)


async def both(document: str, which: str, *, allowed: bool = True) -> tuple[Any, Any]:
    variables = {"which": which}
    expected = await STANDARD.execute(
        document, variable_values=variables, context_value={"allowed": allowed}
    )
    Recording.resolved.clear()
    Asked.asked = 0
    result = await SHORT.execute(
        document, variable_values=variables, context_value={"allowed": allowed}
    )
    assert result.data == expected.data
    assert [e.formatted for e in result.errors or []] == [
        e.formatted for e in expected.errors or []
    ]
    return result, expected


@pytest.mark.parametrize("which", [*ROWS, *PAGES])
@pytest.mark.parametrize("document", list(DOCUMENTS))
async def test_the_answer_is_the_standard_one(document: str, which: str) -> None:
    await both(DOCUMENTS[document], which)


async def test_a_plain_page_is_completed_without_the_standard_path() -> None:
    result, _ = await both(DOCUMENTS["page"], "good")

    assert Recording.resolved == ["Query.page"]
    node = {
        "id": "1",
        "name": "Åsa",
        "note": None,
        "count": 3,
        "at": "2026-01-02T03:04:05.000006+00:00",
        "colour": "RED",
    }
    assert result.data["page"]["edges"][0] == {"cursor": "c0", "node": node}
    assert result.data["page"]["nodes"][1] == {**node, "id": "2", "note": "hello"}
    assert result.data["page"]["maybeRows"][2] is None
    assert result.data["page"]["pageInfo"] == {"hasNextPage": False, "endCursor": "c1"}


async def test_typename_aliases_and_fragments_stay_on_the_short_path() -> None:
    result, _ = await both(DOCUMENTS["typename, aliases, fragments"], "good")

    assert Recording.resolved == ["Query.page", "Page.__typename"]
    assert result.data["page"]["first"][0] == {
        "cursor": "c0",
        "n": {"__typename": "Row", "id": "1", "name": "Åsa", "colour": "RED", "count": 3,
              "alias": "1"},
    }  # fmt: skip


async def test_what_is_not_plain_takes_the_standard_path_below_it() -> None:
    # A resolver anywhere in a selection sends that selection down the standard path; the
    # plain fields inside it still take the short one.
    await both(DOCUMENTS["a field with a resolver"], "good")
    assert sorted(Recording.resolved) == [
        "Edge.node", "Edge.node", "Page.edges", "Query.page", "Row.shout", "Row.shout"
    ]  # fmt: skip

    # A permission on a field without resolver is checked (and refuses) as before.
    result, _ = await both(DOCUMENTS["a permission on a plain field"], "good")
    assert [e.message for e in result.errors] == ["Not for you."]


async def test_prefetched_fields_are_read_on_the_short_path() -> None:
    result, _ = await both(DOCUMENTS["prefetched fields"], "prefetched")

    assert Recording.resolved == ["Query.page"]
    second = {"cursor": "c1", "node": {"id": "1", "friend": {"name": "Li"}}}
    assert result.data["page"]["edges"][1] == second
    assert result.data["page"]["nodes"][0] == {"friend": {"__typename": "Friend", "name": "Bo"}}


async def test_a_field_not_prefetched_is_left_to_its_resolver() -> None:
    result, _ = await both(DOCUMENTS["prefetched fields"], "prefetched and not")

    assert "Row.friend" in Recording.resolved
    assert [n["friend"]["name"] for n in result.data["page"]["nodes"]] == [
        "Bo", "loaded by the resolver"
    ]  # fmt: skip


async def test_a_principal_permission_is_asked_once_per_request_on_the_short_path() -> None:
    _, stock = await both(DOCUMENTS["a guarded prefetched field"], "prefetched")
    # The standard path asks at each of the four places; the short path once.
    assert Asked.asked == 1
    assert Recording.resolved == ["Query.page"]
    assert [n["guardedFriend"]["name"] for n in stock.data["page"]["nodes"]] == ["Bo", "Li"]


async def test_a_refusing_principal_permission_refuses_as_the_standard_path_does() -> None:
    result, _ = await both(DOCUMENTS["a guarded prefetched field"], "prefetched", allowed=False)

    assert result.data is None
    assert {e.message for e in result.errors} == {"Not allowed."}
    assert "Row.guardedFriend" in Recording.resolved


async def test_skip_and_include_are_applied_before_the_short_path() -> None:
    result, _ = await both(DOCUMENTS["skip and include"], "good")

    assert result.data["page"]["edges"][0] == {"node": {"id": "1", "note": None}}
    assert result.data["page"]["nodes"][0] == {"id": "1"}
    assert "tags" not in result.data["page"]


async def test_a_plan_is_made_once_per_field_definition() -> None:
    await both(DOCUMENTS["page"], "good")

    plans = execution._plans[SHORT._schema]
    assert all(plans[("Row", name)] for name in NODE_FIELDS.split())
    assert plans[("Row", "secret")] is None
    assert plans[("Query", "page")] is None
    assert plans[("Page", "edges")] is not None


async def test_an_operation_leaves_no_cycle_for_the_garbage_collector() -> None:
    gc.disable()
    try:
        result, _ = await both(DOCUMENTS["page"], "good")
        assert result.data
        # Freed by reference counting as soon as the operation is done, with all it held.
        assert Recording.last is not None
        assert Recording.last() is None
    finally:
        gc.enable()


async def test_resolvers_can_still_use_graphql_cores_async_helpers() -> None:
    result = await SHORT.execute("{ gathered }")

    assert result.errors is None
    assert result.data == {"gathered": [1, 2]}


async def test_selections_follow_the_variables_of_each_request() -> None:
    # Selections are kept between requests only for documents without directives: here the
    # same document selects differently with other variables.
    document = """query ($which: String!, $yes: Boolean!) { page(which: $which) {
        edges { cursor @include(if: $yes) node { id name @skip(if: $yes) } } } }"""
    answers = []
    for yes in (True, False, True):
        variables = {"which": "good", "yes": yes}
        expected = await STANDARD.execute(document, variable_values=variables)
        result = await SHORT.execute(document, variable_values=variables)
        assert result.data == expected.data
        assert not result.errors
        answers.append(result.data["page"]["edges"][0])

    assert answers == [
        {"cursor": "c0", "node": {"id": "1"}},
        {"node": {"id": "1", "name": "Åsa"}},
        {"cursor": "c0", "node": {"id": "1"}},
    ]


# ---------------------------------------------------------------- the setting, and the fence

GRID = """{ invitations(first: 50) { totalCount edges { cursor node {
    id email status message createdAt sentAt acceptedAt expiresAt
    storeView { code name } website { code name } inviteeGroup { code }
    inviter { email firstname lastname } invitee { email } } }
    pageInfo { hasNextPage endCursor } } }"""


async def test_with_fast_execution_off_the_stock_path_answers_the_same(settings: Settings) -> None:
    assert build_schema(settings).execution_context_class is ExecutionContext
    stock_settings = settings.model_copy(update={"fast_execution": False})
    stock_schema = build_schema(stock_settings)
    assert not issubclass(stock_schema.execution_context_class, ExecutionContext)
    assert stock_schema.execution_context_class.execute_field.__module__.startswith("graphql.")

    inviter = await make_customer("inviter@example.com")
    for i, status in enumerate([InvitationStatus.NOT_SENT, InvitationStatus.SENT] * 3):
        await make_invitation(inviter, f"friend{i}@example.com", status=status)
    token = await admin_token(await make_admin())
    answers = []
    for app_settings in (settings, stock_settings):
        app = create_app(app_settings, manage_database=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            answers.append(await GraphQLClient(http)(GRID, token=token))

    fast, stock = answers
    assert "errors" not in fast, fast
    assert fast["data"]["invitations"]["totalCount"] == 6
    assert fast == stock


def test_the_libraries_under_the_short_path_are_the_pinned_ones() -> None:
    # schema/execution.py overrides internals of both (see its docstring): another release must
    # be checked against it (this module's comparisons) before the pins in pyproject.toml move.
    assert importlib.metadata.version("graphql-core") == "3.3.2"
    assert importlib.metadata.version("strawberry-graphql") == "0.341.2"
    overridden = ["self", "parent_type", "source", "field_details_list", "path", "position_context"]
    assert list(inspect.signature(Executor.execute_field).parameters) == overridden
    assert list(inspect.signature(Executor.collect_subfields).parameters) == [
        "self", "return_type", "field_details_list"
    ]  # fmt: skip
