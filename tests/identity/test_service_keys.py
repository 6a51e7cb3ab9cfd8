"""Service API keys: created, listed and revoked by `invitations api-key`, used as Bearer tokens."""

from __future__ import annotations

import httpx

from config import Settings
from domain.tokens import hash_token
from models.accounts import ServiceKey
from tests.cli.test_main import run_cli
from tests.events.test_processes import server_process
from tests.helpers import GraphQLClient, error_codes

REPORT = '{ invitationsReport(filter: {from: "2026-01-01", to: "2026-01-31"}) { __typename } }'
CUSTOMERS_REPORT = (
    '{ invitedCustomersReport(filter: {from: "2026-01-01", to: "2026-01-31"}) { __typename } }'
)


async def _create(database_url: str, name: str, *permissions: str) -> str:
    options = [arg for p in permissions for arg in ("--permission", p)]
    code, output = await run_cli(database_url, "api-key", "create", "--name", name, *options)
    assert code == 0, output
    key = output.strip().splitlines()[-1]
    assert key.startswith("inv_sk_"), output
    assert len(key) == len("inv_sk_") + 43, output  # 256 bits in URL-safe base64
    return key


async def test_a_reports_key_reads_reports_and_nothing_else(
    database_url: str, gql: GraphQLClient
) -> None:
    key = await _create(database_url, "reports-bot", "INVITATION_REPORTS")
    row = await ServiceKey.get(name="reports-bot")
    assert row.key_hash == hash_token(key)
    assert key not in str(row.__dict__)

    assert "errors" not in await gql(REPORT, token=key)
    assert "errors" not in await gql(CUSTOMERS_REPORT, token=key)
    for document in (
        "{ invitations { totalCount } }",
        "{ invitationSettings { maxInvitationsPerSend } }",
        "{ emailTemplates { code } }",
        "mutation { updateInvitationSettings(input: {maxInvitationsPerSend: 6}) "
        "{ userErrors { code } } }",
    ):
        assert error_codes(await gql(document, token=key)) == ["FORBIDDEN"], document
    assert error_codes(await gql("{ customer { email } }", token=key)) == ["FORBIDDEN"]
    # A made-up key of the right shape signs nobody in.
    assert error_codes(await gql(REPORT, token="inv_sk_" + "x" * 43)) == ["UNAUTHENTICATED"]

    code, listing = await run_cli(database_url, "api-key", "list")
    assert code == 0, listing
    assert "reports-bot\tINVITATION_REPORTS" in listing
    assert "last used 20" in listing
    assert key not in listing


async def test_a_revoked_key_is_refused_at_once_by_another_server_process(
    database_url: str, settings: Settings
) -> None:
    key = await _create(database_url, "nightly-export", "INVITATION_REPORTS")
    async with server_process(settings) as base, httpx.AsyncClient(base_url=base) as http:
        client = GraphQLClient(http)
        assert "errors" not in await client(REPORT, token=key)
        code, output = await run_cli(database_url, "api-key", "revoke", "nightly-export")
        assert code == 0, output
        body = await client(REPORT, token=key)
        assert error_codes(body) == ["UNAUTHENTICATED"], body
    code, output = await run_cli(database_url, "api-key", "revoke", "nightly-export")
    assert code == 1, output
    assert "revoked" in (await run_cli(database_url, "api-key", "list"))[1]


async def test_names_are_unique(database_url: str) -> None:
    await _create(database_url, "twin")
    code, output = await run_cli(database_url, "api-key", "create", "--name", "twin")
    assert code == 1, output
    assert "exists already" in output
