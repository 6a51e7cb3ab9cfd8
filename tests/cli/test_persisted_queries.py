"""`invitations persisted-queries add|list`, run as a separate process against the test database:
documents from .graphql files or an Apollo manifest, all or none."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from models.persisted_queries import PersistedQuery
from tests.cli.test_main import run_cli

STORE_VIEWS = "query StoreViews { storeViews { code } }"
SETTINGS = "query Settings { storefrontInvitationSettings { enabled } }"


def manifest(*bodies: str, wrong_id: bool = False) -> str:
    operations = [
        {
            "id": hashlib.sha256((body + ("x" if wrong_id else "")).encode()).hexdigest(),
            "name": f"Op{index}",
            "type": "query",
            "body": body,
        }
        for index, body in enumerate(bodies)
    ]
    return json.dumps(
        {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
    )


async def test_documents_from_a_file_and_a_manifest_are_registered_once(
    database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "views.graphql").write_text(STORE_VIEWS)
    (tmp_path / "manifest.json").write_text(manifest(STORE_VIEWS, SETTINGS))

    code, output = await run_cli(
        database_url,
        "persisted-queries",
        "add",
        str(tmp_path / "views.graphql"),
        str(tmp_path / "manifest.json"),
    )
    again, output_again = await run_cli(
        database_url, "persisted-queries", "add", str(tmp_path / "manifest.json")
    )
    listed, listing = await run_cli(database_url, "persisted-queries", "list")

    assert code == 0, output
    assert "Registered 2 new of 2 documents." in output
    assert again == 0, output_again
    assert "Registered 0 new of 2 documents." in output_again
    assert {row.document for row in await PersistedQuery.all()} == {STORE_VIEWS, SETTINGS}
    assert listed == 0
    assert hashlib.sha256(SETTINGS.encode()).hexdigest() in listing


async def test_any_bad_document_registers_nothing(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "good.graphql").write_text(STORE_VIEWS)
    (tmp_path / "invalid.graphql").write_text("{ noSuchField }")
    (tmp_path / "broken.graphql").write_text("{")
    (tmp_path / "ids.json").write_text(manifest(SETTINGS, wrong_id=True))

    code, output = await run_cli(
        database_url, "persisted-queries", "add", *(str(p) for p in sorted(tmp_path.iterdir()))
    )

    assert code == 1
    assert "invalid.graphql: Cannot query field 'noSuchField'" in output
    assert "broken.graphql: Syntax Error" in output
    assert "ids.json: operations[0]: its id is not the SHA-256 of its body" in output
    assert "Nothing registered." in output
    assert await PersistedQuery.all().count() == 0


async def test_more_than_the_bound_registers_nothing(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(manifest(STORE_VIEWS, SETTINGS))

    code, output = await run_cli(
        database_url,
        "persisted-queries",
        "add",
        str(tmp_path / "manifest.json"),
        env={"INVITATIONS_PERSISTED_QUERIES_MAX": "1"},
    )

    assert code == 1
    assert "more than 1 documents" in output
    assert await PersistedQuery.all().count() == 0
