"""The short way past Strawberry's extension runner (schema/operation.py) answers every request
exactly as Strawberry's way: the same body, status and headers, the same metrics, and the same
masking and outage answer; and it is taken only where nothing else could happen."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from strawberry.extensions import SchemaExtension

from api.schema import Query, Schema, build_schema
from api.view import GraphQLView
from app import create_app
from config import Settings
from models.invitation import InvitationStatus
from schema.operation import ShortOperations
from tests.helpers import admin_token, customer_token, make_admin, make_customer
from tests.invitation_factories import make_invitation
from tests.schema.test_production_profile import production_settings

MY_INVITATIONS = """query Mine($first: Int!) { myInvitations(first: $first) {
    totalCount edges { cursor node { id email status createdAt sentAt expiresAt } }
    pageInfo { hasNextPage endCursor } } }"""
GRID = """query Grid { invitations(first: 3, sort: {field: EMAIL, reverse: false}) {
    totalCount edges { node { id email storeView { code } inviter { email } } } } }"""
SEND = """mutation Send($emails: [String!]!) { sendInvitations(input: {emails: $emails}) {
    userErrors { code message } } }"""
SIGN_IN = """mutation SignIn { generateCustomerToken(email: "nobody@example.com",
    password: "not-the-password") { customerToken { token } userErrors { code } } }"""
WEBSITES = "query Websites { websites { code } }"
GRAPHQL_JSON = "application/graphql-response+json"

# (name, body, who signs in, extra headers, whether the short way may take it)
Request = tuple[str, Any, str | None, dict[str, str], bool]
REQUESTS: list[Request] = [
    ("a page", {"query": MY_INVITATIONS, "variables": {"first": 2}}, "customer", {}, True),
    ("a page, by name", {"query": MY_INVITATIONS, "variables": {"first": 20},
                         "operationName": "Mine"}, "customer", {}, True),
    ("graphql-response+json", {"query": MY_INVITATIONS, "variables": {"first": 1}}, "customer",
     {"accept": GRAPHQL_JSON}, True),
    ("the grid", {"query": GRID}, "admin", {}, True),
    ("variables that do not coerce", {"query": MY_INVITATIONS, "variables": {"first": "x"}},
     "customer", {}, True),
    ("... answered without data", {"query": MY_INVITATIONS, "variables": {}}, "customer",
     {"accept": GRAPHQL_JSON}, True),
    ("a field's own error", {"query": MY_INVITATIONS, "variables": {"first": 1000}}, "customer",
     {}, True),
    ("a mutation's user error", {"query": SEND, "variables": {"emails": ["not an address"]}},
     "customer", {}, True),
    ("a failed sign-in", {"query": SIGN_IN}, None, {}, True),
    ("no token", {"query": MY_INVITATIONS, "variables": {"first": 2}}, None, {}, False),
    ("the wrong principal", {"query": GRID}, "customer", {}, False),
    ("an unknown token", {"query": MY_INVITATIONS, "variables": {"first": 2}}, "nonsense", {},
     False),
    ("an unknown store view", {"query": MY_INVITATIONS, "variables": {"first": 2}}, "customer",
     {"store": "nowhere"}, False),
    ("a syntax error", {"query": "query Broken {"}, None, {}, False),
    ("a validation error", {"query": "{ noSuchField }"}, None, {}, False),
    ("no such operation", {"query": GRID, "operationName": "Other"}, "admin", {}, False),
    # (Strawberry runs the first, as the short way does)
    ("two operations, none named", {"query": GRID + "\nquery Two { __typename }"}, "admin", {},
     True),
    ("a subscription", {"query": "subscription { myInvitationUpdates { id } }"}, "customer", {},
     False),
    ("JSON with its charset", {"query": GRID}, "admin",
     {"content-type": "application/json; charset=utf-8"}, True),
    ("null variables", {"query": GRID, "variables": None}, "admin", {}, True),
    ("an extensions member", {"query": GRID, "extensions": {}}, "admin", {}, True),
    ("a query that is not a string", {"query": 5}, "admin", {}, False),
    ("variables that are not an object", {"query": GRID, "variables": [1]}, "admin", {}, False),
    ("an operation name that is not a string", {"query": GRID, "operationName": 1}, "admin", {},
     False),
    ("a streamed transport asked for", {"query": GRID}, "admin",
     {"accept": "multipart/mixed"}, True),
    ("a body that is not JSON", "{not json", "admin", {}, False),
    ("a batch", [{"query": GRID}], "admin", {}, False),
]  # fmt: skip
# The requests the view answers without Strawberry's HTTP run (api/view.py, _short_post).
WITHOUT_RUN = {
    "a page", "a page, by name", "graphql-response+json", "the grid",
    "variables that do not coerce", "... answered without data", "a field's own error",
    "a mutation's user error", "a failed sign-in", "two operations, none named",
    "JSON with its charset", "null variables",
}  # fmt: skip


@pytest.fixture
async def both(settings: Settings) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The app as configured (the short way on) and with the short way off, on one database."""
    clients = {}
    for name, short in (("short", True), ("strawberry", False)):
        app = create_app(settings.model_copy(update={"short_operations": short}),
                         manage_database=False)  # fmt: skip
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        clients[name] = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    yield clients
    for client in clients.values():
        await client.aclose()


@pytest.fixture
async def tokens() -> dict[str, str]:
    inviter = await make_customer("inviter@example.com")
    for i, status in enumerate([InvitationStatus.NOT_SENT, InvitationStatus.SENT] * 3):
        await make_invitation(inviter, f"friend{i}@example.com", status=status)
    return {
        "customer": await customer_token(inviter),
        "admin": await admin_token(await make_admin()),
        "nonsense": "not-a-token",
    }


@pytest.fixture
def short_ways(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The operations the short way ran, by name, as they run."""
    taken: list[str] = []
    execute = ShortOperations.execute

    async def counted(self: ShortOperations, known: Any, **kwargs: Any) -> Any:
        taken.append(known.name or "")
        return await execute(self, known, **kwargs)

    monkeypatch.setattr(ShortOperations, "execute", counted)
    return taken


async def _answer(
    http: httpx.AsyncClient, body: Any, token: str | None, headers: dict[str, str]
) -> tuple[int, dict[str, str], Any]:
    sent = {"store": "default", "content-type": "application/json", **headers}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    content = body if isinstance(body, str) else json.dumps(body)
    response = await http.post("/graphql", content=content, headers=sent)
    kept = {
        name: response.headers[name]
        for name in ("content-type", "retry-after", "www-authenticate", "cache-control")
        if name in response.headers
    }
    return response.status_code, kept, response.json()


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each call of Strawberry's HTTP run, as whether its view has the short way."""
    called: list[bool] = []
    run = GraphQLView.run

    async def counted(self: GraphQLView, *args: Any, **kwargs: Any) -> Any:
        called.append(self.short is not None)
        return await run(self, *args, **kwargs)

    monkeypatch.setattr(GraphQLView, "run", counted)
    return called


@pytest.mark.parametrize(
    ("name", "body", "who", "headers", "short"),
    REQUESTS,
    ids=[request[0] for request in REQUESTS],
)
async def test_every_answer_is_strawberrys(
    both: dict[str, httpx.AsyncClient],
    tokens: dict[str, str],
    short_ways: list[str],
    runs: list[bool],
    name: str,
    body: Any,
    who: str | None,
    headers: dict[str, str],
    short: bool,
) -> None:
    # Given the same request, twice to each app (the second from the document cache)
    token = tokens[who] if who else None
    answers = {}
    for app, http in both.items():
        for _ in range(2):
            answers[app] = await _answer(http, body, token, headers)
    # Then both answer alike, and the short way took exactly the requests it may take
    assert answers["short"] == answers["strawberry"]
    assert len(short_ways) == (2 if short else 0), short_ways
    # (and the view of the short way left to Strawberry's run all the others)
    assert runs.count(False) == 2
    assert runs.count(True) == (0 if name in WITHOUT_RUN else 2)


async def test_an_unexpected_error_is_masked_and_an_unreachable_database_answered_alike(
    settings: Settings, tokens: dict[str, str], short_ways: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    field = next(f for f in Query.__strawberry_definition__.fields if f.name == "websites")
    body = {"query": WEBSITES}
    for raised in (RuntimeError("password=hunter2"), ConnectionRefusedError("db.internal:5432")):

        async def explode(info: object, error: Exception = raised) -> list[object]:
            raise error

        monkeypatch.setattr(field.base_resolver, "wrapped_func", explode)
        answers = []
        for short in (True, False):  # apps of their own: an outage is remembered by its app
            app = create_app(settings.model_copy(update={"short_operations": short}),
                             manage_database=False)  # fmt: skip
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                answers.append(await _answer(http, body, tokens["admin"], {}))
        short_answer, strawberry_answer = answers
        assert short_answer == strawberry_answer
        status, headers, answer = short_answer
        assert "hunter2" not in str(answer)
        assert "db.internal" not in str(answer)
        if isinstance(raised, ConnectionRefusedError):
            assert (status, headers["retry-after"]) == (503, "1"), short_answer
            assert answer["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        else:
            assert answer["errors"][0]["extensions"]["code"] == "INTERNAL"
    assert short_ways == ["Websites", "Websites"]


async def _samples(http: httpx.AsyncClient) -> dict[tuple[str, tuple[Any, ...]], float]:
    response = await http.get("/metrics")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        if family.name.startswith("invitations_graphql")
        for sample in family.samples
        if not sample.name.endswith(("_sum", "_bucket", "_created"))
    }


async def test_operations_are_counted_alike(
    both: dict[str, httpx.AsyncClient], tokens: dict[str, str], short_ways: list[str]
) -> None:
    # Given the metrics (one registry per process: both apps count into it)
    moves: list[dict[Any, float]] = []
    for http in both.values():
        before = await _samples(http)
        # When a named query, a query with a field error and a mutation run
        for body, who in (
            ({"query": MY_INVITATIONS, "variables": {"first": 2}}, "customer"),
            ({"query": MY_INVITATIONS, "variables": {"first": 1000}}, "customer"),
            ({"query": SIGN_IN}, None),
        ):
            await _answer(http, body, tokens[who] if who else None, {})
        after = await _samples(http)
        moves.append({key: after[key] - before.get(key, 0.0) for key in after
                      if after[key] != before.get(key, 0.0)})  # fmt: skip
    # Then each way moved the same counters by the same amounts
    short, strawberry = moves
    assert short == strawberry
    assert short[("invitations_graphql_requests_total",
                  (("operation", "Mine"), ("type", "query")))] == 2  # fmt: skip
    assert len(short_ways) == 3


async def test_in_production_suggestions_are_hidden_alike(
    settings: Settings, tokens: dict[str, str], short_ways: list[str]
) -> None:
    # Given production (HideSuggestions among the extensions), both ways
    body = {"query": "query Some($s: [InvitationStatus!]) { myInvitations(status: $s) { "
            "totalCount } }", "variables": {"s": ["SNT"]}}  # fmt: skip
    answers = []
    for short in (True, False):
        app = create_app(production_settings(settings, short_operations=short),
                         manage_database=False)  # fmt: skip
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            # When a variable names no enum value (graphql-core would suggest one)
            answers.append(await _answer(http, body, tokens["customer"], {}))
    # Then both answer alike, without the suggestion
    assert answers[0] == answers[1]
    assert "SNT" in str(answers[0])
    assert "Did you mean" not in str(answers[0])
    assert short_ways == ["Some"]


def test_the_short_way_is_built_only_for_the_extensions_it_knows(settings: Settings) -> None:
    production = production_settings(settings)
    assert production.is_production
    for built in (build_schema(settings), build_schema(production)):
        assert built._short is not None
    assert build_schema(settings.model_copy(update={"short_operations": False}))._short is None

    class Another(SchemaExtension):
        pass

    schema = build_schema(settings)
    extensions: list[Callable[[], SchemaExtension]] = [*schema.extensions, Another]
    with_another = Schema(query=Query, extensions=extensions, check=schema._document_check,
                          short_operations=True)  # fmt: skip
    assert with_another._short is None
