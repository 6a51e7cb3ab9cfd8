"""Each admin field (settings, reports, invitations) refuses no token, a customer token, and an
admin without its permission; an admin holding the permission gets an answer."""

from __future__ import annotations

import pytest

from models.accounts import Permission
from tests.helpers import (
    GraphQLClient,
    admin_token,
    customer_token,
    error_codes,
    make_admin,
    make_customer,
)

RANGE = '{from: "2026-01-01", to: "2026-01-31"}'
FIELDS = [
    (Permission.INVITATION_SETTINGS, "{ invitationSettings { enabled } }"),
    (
        Permission.INVITATION_SETTINGS,
        "mutation { updateInvitationSettings(input: {maxInvitationsPerSend: 6}) "
        "{ settings { maxInvitationsPerSend } userErrors { code } } }",
    ),
    (
        Permission.INVITATION_REPORTS,
        f"{{ invitationsReport(filter: {RANGE}) {{ totals {{ invited }} }} }}",
    ),
    (
        Permission.INVITATION_REPORTS,
        f"{{ invitedCustomersReport(filter: {RANGE}) {{ invitationsSent }} }}",
    ),
    (Permission.INVITATIONS, "{ invitations { totalCount nodes { id } } }"),
    (Permission.INVITATIONS, '{ invitation(id: "1") { id } }'),
    (
        Permission.INVITATIONS,
        'mutation { createInvitations(input: {emails: ["a@example.com"], storeViewId: "1"}) '
        "{ invitations { id } userErrors { code } } }",
    ),
    (
        Permission.INVITATIONS,
        'mutation { updateInvitation(id: "1", input: {message: "Hi"}) '
        "{ invitation { id } userErrors { code } } }",
    ),
    (
        Permission.INVITATIONS,
        'mutation { discardInvitations(ids: ["1"]) { discardedCount userErrors { code } } }',
    ),
    (
        Permission.INVITATIONS,
        'mutation { resendInvitations(ids: ["1"]) { queuedCount userErrors { code } } }',
    ),
]


async def token_for(principal: str, needed: Permission) -> str | None:
    if principal == "nobody":
        return None
    if principal == "customer":
        return await customer_token(await make_customer())
    granted = (
        list(Permission)
        if principal == "admin with it"
        else [p for p in Permission if p is not needed]
    )
    return await admin_token(await make_admin(permissions=granted))


@pytest.mark.parametrize(("permission", "document"), FIELDS)
@pytest.mark.parametrize(
    ("principal", "code"),
    [
        ("nobody", "UNAUTHENTICATED"),
        ("customer", "FORBIDDEN"),
        ("admin without it", "FORBIDDEN"),
        ("admin with it", None),
    ],
)
async def test_permission_matrix(
    gql: GraphQLClient, permission: Permission, document: str, principal: str, code: str | None
) -> None:
    body = await gql(document, token=await token_for(principal, permission))

    if code is None:
        assert "errors" not in body, body
        assert body["data"]
    else:
        assert error_codes(body) == [code]
        # A nullable root field (invitation) is null, the others null the whole data.
        assert body["data"] is None or set(body["data"].values()) == {None}
