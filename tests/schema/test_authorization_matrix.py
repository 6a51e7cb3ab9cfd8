"""Who may call what: one rule per root field and per guarded field, exercised over HTTP.

The fields come from the schema built from code, so a new field without a rule here fails
`test_every_field_has_a_rule`. Each rule is then tried with five principals: nobody, the customer
who owns the data, another customer, an admin without the rule's permission, an admin with it.
Subscriptions are tried over a real WebSocket: an allowed one must receive a change of Alice's
invitation (the other customer must not), a refused one gets the protocol's error message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pytest
from graphql import (
    FieldNode,
    GraphQLNamedType,
    GraphQLObjectType,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    parse,
)

import events
from api.schema import build_schema
from config import Settings
from domain.clock import utcnow
from domain.tokens import authenticate
from models.accounts import Customer, Permission
from models.bulk import BulkAction, BulkOperation, BulkStatus
from models.invitation import Invitation, InvitationStatus
from tests.helpers import (
    PASSWORD,
    TEST_SECRET,
    GraphQLClient,
    admin_token,
    customer_token,
    error_codes,
    make_admin,
    make_customer,
    store_view,
)
from tests.invitation_factories import code_of, make_invitation
from tests.live import live_client, live_server

SCHEMA = build_schema(Settings(secret_key=TEST_SECRET))._schema


class Who(Enum):
    """Who a field is meant for."""

    ANYONE = "anyone"
    CUSTOMER = "customer"
    ADMIN = "admin"


@dataclass
class World:
    """Alice owns an invitation; Bob is another customer with his own."""

    alice: Customer
    bob: Customer
    alice_invitation_id: int
    alice_code: str
    alice_token: str
    store_view_id: int


@dataclass(frozen=True)
class Probe:
    """A minimal valid operation that calls the field, and its variables."""

    document: str
    variables: Callable[[World], dict[str, Any]] = lambda _: {}
    # For the other customer: what must hold of an allowed answer so Alice's data stays hers.
    isolation: Callable[[dict[str, Any], World], Awaitable[None]] | None = None
    # The principals this probe is for (a field of Invitation is reached differently by each).
    principals: frozenset[str] | None = None


@dataclass(frozen=True)
class Rule:
    who: Who
    permission: Permission | None = None
    probes: tuple[Probe, ...] = field(default_factory=tuple)


async def _nothing_of_alices(body: dict[str, Any], world: World) -> None:
    assert "alice" not in str(body), body


async def _not_found(body: dict[str, Any], world: World) -> None:
    payload = body["data"]["cancelInvitation"]
    assert payload["invitation"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]
    alices = await Invitation.get(id=world.alice_invitation_id)
    assert alices.status is InvitationStatus.NOT_SENT


async def _alices_invitation_unchanged(body: dict[str, Any], world: World) -> None:
    payload = body["data"]["acceptInvitation"]
    assert payload["invitation"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["EMAIL_MISMATCH"]
    alices = await Invitation.get(id=world.alice_invitation_id)
    assert alices.status is InvitationStatus.NOT_SENT


async def _alices_token_still_works(body: dict[str, Any], world: World) -> None:
    assert body["data"]["revokeCustomerToken"]["revoked"] is True
    assert await authenticate(world.alice_token) is not None


async def _own_account(body: dict[str, Any], world: World) -> None:
    assert body["data"]["customer"]["email"] == world.bob.email


async def _own_invitations_only(body: dict[str, Any], world: World) -> None:
    emails = [node["email"] for node in body["data"]["myInvitations"]["nodes"]]
    assert emails == ["bobs-friend@example.com"]


RANGE = {"from": "2026-01-01", "to": "2026-01-31"}
INVITATION_FIELDS = "{ id email }"


def _invitation_probe(selection: str) -> tuple[Probe, ...]:
    """An admin-only field of Invitation, reached by each principal through what it may read."""
    return (
        Probe(
            f"{{ myInvitations {{ nodes {{ id {selection} }} }} }}",
            principals=frozenset({"nobody", "customer", "other customer"}),
        ),
        Probe(
            f"query($id: ID!) {{ invitation(id: $id) {{ id {selection} }} }}",
            lambda w: {"id": str(w.alice_invitation_id)},
            principals=frozenset({"admin without it", "admin with it"}),
        ),
    )


RULES: dict[str, Rule] = {
    # ---------------------------------------------------------------- Query: anyone
    "Query.storefrontInvitationSettings": Rule(
        Who.ANYONE, probes=(Probe("{ storefrontInvitationSettings { enabled } }"),)
    ),
    "Query.invitationByCode": Rule(
        Who.ANYONE,
        probes=(
            Probe(
                "query($code: String!) { invitationByCode(code: $code) { status } }",
                lambda w: {"code": w.alice_code},
            ),
        ),
    ),
    # ---------------------------------------------------------------- Query: customers
    "Query.customer": Rule(
        Who.CUSTOMER, probes=(Probe("{ customer { email } }", isolation=_own_account),)
    ),
    "Query.myInvitations": Rule(
        Who.CUSTOMER,
        probes=(
            Probe(
                "{ myInvitations { totalCount nodes { email } } }", isolation=_own_invitations_only
            ),
        ),
    ),
    # ---------------------------------------------------------------- Query: admins
    "Query.websites": Rule(Who.ADMIN, probes=(Probe("{ websites { code } }"),)),
    "Query.storeViews": Rule(
        Who.ANYONE, probes=(Probe("{ storeViews { code isDefault baseUrl sortOrder } }"),)
    ),
    "StoreView.invitationUrlTemplate": Rule(
        Who.ADMIN, Permission.STORES, probes=(Probe("{ storeViews { invitationUrlTemplate } }"),)
    ),
    "Query.emailSenders": Rule(
        Who.ADMIN, Permission.STORES, probes=(Probe("{ emailSenders { identity email } }"),)
    ),
    "Query.customerGroups": Rule(Who.ADMIN, probes=(Probe("{ customerGroups { code } }"),)),
    "Query.invitationSettings": Rule(
        Who.ADMIN,
        Permission.INVITATION_SETTINGS,
        probes=(Probe("{ invitationSettings { enabled } }"),),
    ),
    "Query.invitationsReport": Rule(
        Who.ADMIN,
        Permission.INVITATION_REPORTS,
        probes=(
            Probe(
                "query($f: ReportFilter!) { invitationsReport(filter: $f) { totals { invited } } }",
                lambda _: {"f": RANGE},
            ),
        ),
    ),
    "Query.invitedCustomersReport": Rule(
        Who.ADMIN,
        Permission.INVITATION_REPORTS,
        probes=(
            Probe(
                "query($f: ReportFilter!) "
                "{ invitedCustomersReport(filter: $f) { invitationsSent } }",
                lambda _: {"f": RANGE},
            ),
        ),
    ),
    # The admin grid (being built alongside): exercised once the fields exist.
    "Query.invitations": Rule(
        Who.ADMIN,
        Permission.INVITATIONS,
        probes=(Probe("{ invitations(first: 1) { totalCount } }"),),
    ),
    "Query.invitation": Rule(
        Who.ADMIN,
        Permission.INVITATIONS,
        probes=(
            Probe(
                "query($id: ID!) { invitation(id: $id) { email } }",
                lambda w: {"id": str(w.alice_invitation_id)},
            ),
        ),
    ),
    # ---------------------------------------------------------------- Mutation: anyone
    "Mutation.generateCustomerToken": Rule(
        Who.ANYONE,
        probes=(
            Probe(
                "mutation($e: String!, $p: String!) { generateCustomerToken(email: $e, "
                "password: $p) { customerToken { token } } }",
                lambda w: {"e": w.alice.email, "p": PASSWORD},
            ),
        ),
    ),
    "Mutation.createCustomer": Rule(
        Who.ANYONE,
        probes=(
            Probe(
                "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) "
                "{ userErrors { code } } }",
                lambda _: {
                    "i": {
                        "email": "carol@example.com",
                        "firstname": "Carol",
                        "lastname": "Doe",
                        "password": PASSWORD,
                    }
                },
            ),
        ),
    ),
    "Mutation.generateAdminToken": Rule(
        Who.ANYONE,
        probes=(
            Probe(
                'mutation { generateAdminToken(username: "nobody", password: "wrong") '
                "{ userErrors { code } } }"
            ),
        ),
    ),
    # ---------------------------------------------------------------- Mutation: customers
    "Mutation.revokeCustomerToken": Rule(
        Who.CUSTOMER,
        probes=(
            Probe(
                "mutation { revokeCustomerToken { revoked } }",
                isolation=_alices_token_still_works,
            ),
        ),
    ),
    "Mutation.sendInvitations": Rule(
        Who.CUSTOMER,
        probes=(
            Probe(
                "mutation($i: SendInvitationsInput!) { sendInvitations(input: $i) "
                "{ invitations { email } userErrors { code } } }",
                lambda _: {"i": {"emails": ["dave@example.com"]}},
                isolation=_nothing_of_alices,
            ),
        ),
    ),
    "Mutation.cancelInvitation": Rule(
        Who.CUSTOMER,
        probes=(
            Probe(
                "mutation($id: ID!) { cancelInvitation(id: $id) "
                "{ invitation { status } userErrors { code } } }",
                lambda w: {"id": str(w.alice_invitation_id)},
                isolation=_not_found,
            ),
        ),
    ),
    "Mutation.acceptInvitation": Rule(
        Who.CUSTOMER,
        probes=(
            Probe(
                "mutation($c: String!) { acceptInvitation(code: $c) "
                "{ invitation { status } userErrors { code } } }",
                lambda w: {"c": w.alice_code},
                isolation=_alices_invitation_unchanged,
            ),
        ),
    ),
    # ---------------------------------------------------------------- Mutation: admins
    "Mutation.updateInvitationSettings": Rule(
        Who.ADMIN,
        Permission.INVITATION_SETTINGS,
        probes=(
            Probe(
                "mutation { updateInvitationSettings(input: {maxInvitationsPerSend: 6}) "
                "{ userErrors { code } } }"
            ),
        ),
    ),
    "Mutation.createInvitations": Rule(
        Who.ADMIN,
        Permission.INVITATIONS,
        probes=(
            Probe(
                "mutation($i: CreateInvitationsInput!) { createInvitations(input: $i) "
                "{ __typename } }",
                lambda w: {"i": {"emails": ["erin@example.com"], "storeViewId": w.store_view_id}},
            ),
        ),
    ),
    "Mutation.updateInvitation": Rule(
        Who.ADMIN,
        Permission.INVITATIONS,
        probes=(
            Probe(
                'mutation($id: ID!) { updateInvitation(id: $id, input: {message: "Hi"}) '
                "{ __typename } }",
                lambda w: {"id": str(w.alice_invitation_id)},
            ),
        ),
    ),
    "Mutation.discardInvitations": Rule(
        Who.ADMIN,
        Permission.INVITATIONS,
        probes=(
            Probe(
                "mutation($ids: [ID!]!) { discardInvitations(ids: $ids) { __typename } }",
                lambda w: {"ids": [str(w.alice_invitation_id)]},
            ),
        ),
    ),
    "Mutation.resendInvitations": Rule(
        Who.ADMIN,
        Permission.INVITATIONS,
        probes=(
            Probe(
                "mutation($ids: [ID!]!) { resendInvitations(ids: $ids) { __typename } }",
                lambda w: {"ids": [str(w.alice_invitation_id)]},
            ),
        ),
    ),
    # ---------------------------------------------------------------- Mutation: store setup
    "Mutation.createWebsite": Rule(
        Who.ADMIN,
        Permission.STORES,
        probes=(
            Probe(
                'mutation { createWebsite(input: {code: "w2", name: "W2", defaultGroupId: "1"}) '
                "{ userErrors { code } } }"
            ),
        ),
    ),
    "Mutation.updateWebsite": Rule(
        Who.ADMIN,
        Permission.STORES,
        probes=(
            Probe(
                'mutation { updateWebsite(id: "1", input: {name: "Renamed"}) '
                "{ userErrors { code } } }"
            ),
        ),
    ),
    "Mutation.createStoreView": Rule(
        Who.ADMIN,
        Permission.STORES,
        probes=(
            Probe(
                'mutation { createStoreView(input: {code: "de", name: "DE", websiteId: "1", '
                'locale: "de_DE", baseUrl: "https://shop.example/de/"}) { userErrors { code } } }'
            ),
        ),
    ),
    "Mutation.updateStoreView": Rule(
        Who.ADMIN,
        Permission.STORES,
        probes=(
            Probe(
                "mutation($id: ID!) { updateStoreView(id: $id, input: {sortOrder: 5}) "
                "{ userErrors { code } } }",
                lambda w: {"id": str(w.store_view_id)},
            ),
        ),
    ),
    "Mutation.createCustomerGroup": Rule(
        Who.ADMIN,
        Permission.STORES,
        probes=(
            Probe('mutation { createCustomerGroup(input: {code: "VIP"}) { userErrors { code } } }'),
        ),
    ),
    "Mutation.updateEmailSenders": Rule(
        Who.ADMIN,
        Permission.STORES,
        probes=(
            Probe(
                'mutation { updateEmailSenders(input: [{identity: GENERAL, name: "Shop", '
                'email: "hello@shop.example"}]) { userErrors { code } } }'
            ),
        ),
    ),
    "Query.emailTemplates": Rule(
        Who.ADMIN, Permission.STORES, probes=(Probe("{ emailTemplates { code } }"),)
    ),
    "Query.previewInvitationEmail": Rule(
        Who.ADMIN,
        Permission.STORES,
        probes=(
            Probe(
                "query($id: ID!) { previewInvitationEmail(templateCode: "
                '"invitation_default", storeViewId: $id) { subject } }',
                lambda w: {"id": str(w.store_view_id)},
            ),
        ),
    ),
    "Mutation.saveEmailTemplate": Rule(
        Who.ADMIN,
        Permission.STORES,
        probes=(
            Probe(
                'mutation { saveEmailTemplate(input: {code: "t", name: "T", variants: []}) '
                "{ userErrors { code } } }"
            ),
        ),
    ),
    "Mutation.deleteEmailTemplate": Rule(
        Who.ADMIN,
        Permission.STORES,
        probes=(Probe('mutation { deleteEmailTemplate(code: "t") { userErrors { code } } }'),),
    ),
    # ---------------------------------------------------------------- Subscription
    "Subscription.myInvitationUpdates": Rule(
        Who.CUSTOMER, probes=(Probe("subscription { myInvitationUpdates { email } }"),)
    ),
    "Subscription.invitationUpdates": Rule(
        Who.ADMIN,
        Permission.INVITATIONS,
        probes=(Probe("subscription { invitationUpdates { email } }"),),
    ),
    "Query.bulkOperation": Rule(
        Who.ADMIN,
        Permission.INVITATIONS,
        probes=(Probe('query { bulkOperation(id: "1") { id } }'),),
    ),
    "Query.bulkOperations": Rule(
        Who.ADMIN,
        Permission.INVITATIONS,
        probes=(Probe("query { bulkOperations { totalCount } }"),),
    ),
    "Mutation.startBulkInvitationAction": Rule(
        Who.ADMIN,
        Permission.INVITATIONS,
        probes=(
            Probe(
                "mutation { startBulkInvitationAction(action: DISCARD, "
                'selection: {filter: {ids: ["999999"]}}) { __typename } }'
            ),
        ),
    ),
    "Mutation.cancelBulkOperation": Rule(
        Who.ADMIN,
        Permission.INVITATIONS,
        probes=(Probe('mutation { cancelBulkOperation(id: "1") { __typename } }'),),
    ),
    "Subscription.bulkOperationUpdates": Rule(
        Who.ADMIN,
        Permission.INVITATIONS,
        probes=(Probe('subscription { bulkOperationUpdates(id: "1") { id } }'),),
    ),
    "Query.webhookEndpoints": Rule(
        Who.ADMIN,
        Permission.WEBHOOKS,
        probes=(Probe("query { webhookEndpoints { id } }"),),
    ),
    "Mutation.createWebhookEndpoint": Rule(
        Who.ADMIN,
        Permission.WEBHOOKS,
        probes=(
            Probe(
                'mutation { createWebhookEndpoint(input: {url: "ftp://x", events: '
                "[INVITATION_SENT]}) { userErrors { code } } }"
            ),
        ),
    ),
    "Mutation.updateWebhookEndpoint": Rule(
        Who.ADMIN,
        Permission.WEBHOOKS,
        probes=(
            Probe(
                'mutation { updateWebhookEndpoint(id: "1", input: {enabled: false}) '
                "{ userErrors { code } } }"
            ),
        ),
    ),
    "Mutation.deleteWebhookEndpoint": Rule(
        Who.ADMIN,
        Permission.WEBHOOKS,
        probes=(Probe('mutation { deleteWebhookEndpoint(id: "1") { userErrors { code } } }'),),
    ),
    "Mutation.rotateWebhookSecret": Rule(
        Who.ADMIN,
        Permission.WEBHOOKS,
        probes=(Probe('mutation { rotateWebhookSecret(id: "1") { userErrors { code } } }'),),
    ),
    "Mutation.redeliverWebhook": Rule(
        Who.ADMIN,
        Permission.WEBHOOKS,
        probes=(Probe('mutation { redeliverWebhook(deliveryId: "1") { userErrors { code } } }'),),
    ),
    # ---------------------------------------------------------------- admin-only fields
    **{
        f"Invitation.{name}": Rule(
            Who.ADMIN, Permission.INVITATIONS, probes=_invitation_probe(selection)
        )
        for name, selection in [
            ("inviter", "inviter { id }"),
            ("invitee", "invitee { id }"),
            ("history", "history { status }"),
            ("delivery", "delivery { state }"),
            ("url", "url"),
        ]
    },
}

# Rules for contract fields not in the schema yet wait here until they exist (none now).
PENDING: set[str] = set()


def _guarded_fields() -> list[str]:
    """Every root field, and every field of any other type that declares a permission class."""
    names: list[str] = []
    roots = [SCHEMA.query_type, SCHEMA.mutation_type, SCHEMA.subscription_type]
    for root in roots:
        if root is not None:
            names += [f"{root.name}.{name}" for name in root.fields]
    for type_ in SCHEMA.type_map.values():
        if type_ in roots or not isinstance(type_, GraphQLObjectType):
            continue
        for name, gql_field in type_.fields.items():
            definition = gql_field.extensions.get("strawberry-definition")
            if definition is not None and definition.permission_classes:
                names.append(f"{type_.name}.{name}")
    return names


FIELDS = _guarded_fields()


def test_every_field_has_a_rule() -> None:
    missing = [name for name in FIELDS if name not in RULES]

    assert missing == [], f"add a rule to RULES for: {missing}"


def test_every_rule_names_a_field_or_a_pending_one() -> None:
    stale = [name for name in RULES if name not in FIELDS and name not in PENDING]

    assert stale == []


def test_admin_only_fields_of_invitation_are_guarded() -> None:
    # A rule alone does not guard a field: these must also declare their permission.
    for name in ("inviter", "invitee", "history", "delivery", "url"):
        assert f"Invitation.{name}" in FIELDS


def _reaches(type_: GraphQLNamedType, target: str, seen: set[str]) -> bool:
    if type_.name == target:
        return True
    if type_.name in seen or not isinstance(type_, GraphQLObjectType):
        return False
    seen.add(type_.name)
    return any(_reaches(get_named_type(f.type), target, seen) for f in type_.fields.values())


def test_anonymous_callers_cannot_reach_an_invitation() -> None:
    public = [name for name in FIELDS if RULES.get(name, Rule(Who.ADMIN)).who is Who.ANYONE]
    for name in public:
        root, _, field_name = name.partition(".")
        root_type = SCHEMA.get_type(root)
        assert isinstance(root_type, GraphQLObjectType)
        assert not _reaches(get_named_type(root_type.fields[field_name].type), "Invitation", set())


# ---------------------------------------------------------------- exercising the rules

PRINCIPALS = ["nobody", "customer", "other customer", "admin without it", "admin with it"]


def expected(rule: Rule, principal: str) -> str | None:
    """The error code the principal gets, or None when it is allowed."""
    if rule.who is Who.ANYONE:
        return None
    if principal == "nobody":
        return "UNAUTHENTICATED"
    is_customer = principal in ("customer", "other customer")
    if rule.who is Who.CUSTOMER:
        return None if is_customer else "FORBIDDEN"
    if is_customer:
        return "FORBIDDEN"
    if principal == "admin without it" and rule.permission is not None:
        return "FORBIDDEN"
    return None


async def _world() -> World:
    alice = await make_customer("alice@example.com")
    bob = await make_customer("bob@example.com", firstname="Bob")
    invitation = await make_invitation(alice, "alices-friend@example.com")
    await make_invitation(bob, "bobs-friend@example.com")
    # Bulk operation 1, ended: what the bulk operation probes read, cancel and follow.
    now = utcnow()
    bulk_operation = await BulkOperation.create(
        action=BulkAction.DISCARD,
        status=BulkStatus.COMPLETED,
        actor="admin:root",
        created_at=now,
        updated_at=now,
        finished_at=now,
    )
    assert bulk_operation.id == 1  # ids start again for each test
    return World(
        alice=alice,
        bob=bob,
        alice_invitation_id=invitation.id,
        alice_code=code_of(invitation),
        alice_token=await customer_token(alice),
        store_view_id=(await store_view()).id,
    )


async def _token(principal: str, rule: Rule, world: World) -> str | None:
    if principal == "nobody":
        return None
    if principal == "customer":
        return world.alice_token
    if principal == "other customer":
        return await customer_token(world.bob)
    if principal == "admin with it":
        granted = list(Permission)
    else:  # all the others; none at all when the rule needs no particular permission
        granted = [p for p in Permission if rule.permission not in (None, p)]
    return await admin_token(await make_admin(permissions=granted))


def probe_fields(document: str) -> list[str]:
    operation = parse(document).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return [s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)]


def _operation_type(document: str) -> OperationType:
    operation = parse(document).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return operation.operation


def _root_type(document: str) -> str:
    return _operation_type(document).value.capitalize()


def _exercisable(document: str) -> bool:
    """Whether every root field the document calls exists (fields of other branches may not)."""
    root = {
        OperationType.QUERY: SCHEMA.query_type,
        OperationType.MUTATION: SCHEMA.mutation_type,
        OperationType.SUBSCRIPTION: SCHEMA.subscription_type,
    }[_operation_type(document)]
    assert root is not None
    return all(name in root.fields for name in probe_fields(document))


def _cases() -> list[Any]:
    cases = []
    for name in FIELDS:
        rule = RULES.get(name)
        if rule is None:
            continue  # test_every_field_has_a_rule fails for it
        for index, probe in enumerate(rule.probes):
            if not _exercisable(probe.document):
                continue
            for principal in PRINCIPALS:
                if probe.principals is None or principal in probe.principals:
                    cases.append(
                        pytest.param(name, index, principal, id=f"{name}#{index}-{principal}")
                    )
    return cases


@pytest.mark.parametrize(("name", "probe_index", "principal"), _cases())
async def test_rule(
    gql: GraphQLClient, settings: Settings, name: str, probe_index: int, principal: str
) -> None:
    rule = RULES[name]
    probe = rule.probes[probe_index]
    world = await _world()
    token = await _token(principal, rule, world)

    if _operation_type(probe.document) is OperationType.SUBSCRIPTION:
        await _subscribe(settings, probe.document, token, world, principal, rule)
        return
    body = await gql(probe.document, probe.variables(world), token=token)

    code = expected(rule, principal)
    root_field = next(iter(probe_fields(probe.document)))
    if code is None:
        assert "errors" not in body, body
        assert body["data"][root_field] is not None, body
        if principal == "other customer" and probe.isolation is not None:
            await probe.isolation(body, world)
    else:
        assert set(error_codes(body)) == {code}, body
        # Refused whole, before execution: no field ran...
        assert body["data"] is None, body
        refused = []
        for error in body["errors"]:
            assert "path" not in error, body
            # ...and each error names a guarded field and points at it in the document.
            coordinate = error["message"].rpartition("(field ")[2].rstrip(")")
            refused.append(coordinate)
            [location] = error["locations"]
            line = probe.document.splitlines()[location["line"] - 1]
            assert line[location["column"] - 1 :].startswith(coordinate.partition(".")[2]), body
        # The rule's field is among them, unless the root field the probe reaches it by is.
        assert name in refused or refused == [f"{_root_type(probe.document)}.{root_field}"], body


async def _subscribe(
    settings: Settings, document: str, token: str | None, world: World, principal: str, rule: Rule
) -> None:
    """Over WebSocket: refused with `code`, or allowed and then told of Alice's change (the other
    customer, allowed too, hears nothing of it)."""
    root_field = next(iter(probe_fields(document)))
    code = expected(rule, principal)
    # bulkOperationUpdates polls its operation instead of listening to the broker.
    polls = root_field == "bulkOperationUpdates"
    async with live_server(settings) as url, live_client(url, token=token) as client:
        await client.subscribe(document, wait=code is None and not polls)
        if code is None and polls:
            operation = await client.next_invitation(root_field)  # then it ends: COMPLETED
            assert operation["id"] == "1"
            return
        if code is not None:
            message = await client.receive()
            assert message["type"] == "error", message
            assert {e["extensions"]["code"] for e in message["payload"]} == {code}, message
            return
        await events.changed(world.alice_invitation_id, world.alice.id)
        if principal == "other customer":
            await client.nothing_within(0.2)
        else:
            invitation = await client.next_invitation(root_field)
            assert invitation["email"] == "alices-friend@example.com"
