"""graphql-cop's denial-of-service probes, each refused whole with one clear error.

Depth, alias and token limits themselves are tested in tests/schema/test_guards.py.
"""

from __future__ import annotations

import json

from graphql import get_introspection_query

from config import Settings
from models.accounts import Customer
from models.invitation import Invitation
from schema.limits import MAX_DIRECTIVES_PER_LOCATION, MAX_FIELD_REPEATS
from tests.helpers import PASSWORD, GraphQLClient, customer_token, error_codes, make_customer


def refused_whole(body: dict[str, object]) -> str:
    """The one error message of a request that was refused before anything ran."""
    errors = body["errors"]
    assert isinstance(errors, list)
    assert body["data"] is None, body
    assert len(errors) == 1, errors
    message: str = errors[0]["message"]
    return message


async def test_alias_overloading(gql: GraphQLClient) -> None:
    token = await customer_token(await make_customer())
    aliases = " ".join(f"a{i}: myInvitations {{ totalCount }}" for i in range(100))

    body = await gql(f"{{ {aliases} }}", token=token)

    assert "aliases" in refused_whole(body)


async def test_field_duplication(gql: GraphQLClient) -> None:
    # 500 is graphql-cop's probe: under the token limit, so the repeat rule must catch it.
    body = await gql("query cop { " + "__typename " * 500 + "}")

    assert "'__typename' is repeated 500 times" in refused_whole(body)


async def test_repeating_a_real_field_is_refused_and_a_few_repeats_pass(
    gql: GraphQLClient,
) -> None:
    many = "{ storefrontInvitationSettings { " + "enabled " * (MAX_FIELD_REPEATS + 1) + "} }"
    few = "{ storefrontInvitationSettings { " + "enabled " * MAX_FIELD_REPEATS + "} }"

    assert "'enabled' is repeated" in refused_whole(await gql(many))
    assert (await gql(few))["data"]["storefrontInvitationSettings"]["enabled"] is True


async def test_directive_overloading(gql: GraphQLClient) -> None:
    body = await gql("query cop { __typename " + "@skip(if: false) " * 200 + "}")

    assert f"at most {MAX_DIRECTIVES_PER_LOCATION}" in refused_whole(body)


async def test_unknown_directive_overloading(gql: GraphQLClient) -> None:
    # graphql-cop's own probe: @aa repeated, each otherwise a separate "Unknown directive" error.
    body = await gql("query cop { __typename " + "@aa" * 100 + " }")

    assert "100 directives in one place" in refused_whole(body)


async def test_a_couple_of_directives_still_work(gql: GraphQLClient) -> None:
    body = await gql("{ a: __typename @skip(if: false) @include(if: true) b: __typename }")

    assert body == {"data": {"a": "Query", "b": "Query"}}


async def test_batching_is_refused(gql: GraphQLClient) -> None:
    register = (
        'mutation { createCustomer(input: {email: "e@example.com", firstname: "E", '
        f'lastname: "E", password: "{PASSWORD}"}}) {{ userErrors {{ code }} }} }}'
    )
    batch = [{"query": register} for _ in range(50)]

    response = await gql.http.post(
        "/graphql", content=json.dumps(batch), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert "batch" in response.text.lower()
    assert await Customer.filter(email="e@example.com").count() == 0


async def test_circular_introspection(gql: GraphQLClient) -> None:
    circular = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    via_fragments = """
    { __schema { types { ...T } } }
    fragment T on __Type { fields { type { ...U } } }
    fragment U on __Type { fields { type { fields { name } } } }
    """
    via_type = (
        '{ __type(name: "Query") { fields { type { fields { type { fields { name } } } } } } }'
    )

    for document in (circular, via_fragments, via_type):
        assert refused_whole(await gql(document)) == "Maximum introspection depth exceeded"


async def test_the_standard_introspection_query_still_works_in_development(
    gql: GraphQLClient,
) -> None:
    # What GraphiQL (and schemathesis) send, with every option on.
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )

    body = await gql(query)

    assert "errors" not in body
    names = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert {"Query", "Mutation", "Invitation"} <= names


async def test_aliased_sign_ins_are_counted_one_by_one(
    gql: GraphQLClient, settings: Settings
) -> None:
    # One request, many password guesses: each alias counts against the account's limit.
    await make_customer("alice@example.com")
    guesses = " ".join(
        f'g{i}: generateCustomerToken(email: "alice@example.com", password: "guess{i}") '
        "{ userErrors { code } }"
        for i in range(25)
    )

    body = await gql(f"mutation {{ {guesses} }}")

    # Mutations run one after another, and the refused payload is non-null: the rest never run.
    limit = settings.rate_limit_sign_in_per_account
    assert error_codes(body) == ["RATE_LIMITED"]
    assert body["errors"][0]["path"] == [f"g{limit}"]


async def test_aliased_sends_are_counted_one_by_one(gql: GraphQLClient, settings: Settings) -> None:
    token = await customer_token(await make_customer())
    sends = " ".join(
        f's{i}: sendInvitations(input: {{emails: ["f{i}@example.com"]}}) {{ __typename }}'
        for i in range(25)
    )

    body = await gql(f"mutation {{ {sends} }}", token=token)

    limit = settings.rate_limit_send_invitations_per_account
    assert error_codes(body) == ["RATE_LIMITED"]
    assert body["errors"][0]["path"] == [f"s{limit}"]
    assert await Invitation.all().count() == limit
