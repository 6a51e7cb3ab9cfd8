"""`invitations persisted-queries`: the registered documents of automatic persisted queries.

With INVITATIONS_PERSISTED_ONLY=true these commands are the only way to register one: from
`.graphql` files (each file one document, its text registered exactly as it is, so it must be
the text the client sends) or from a manifest as Apollo's `generate-persisted-query-manifest`
writes it (`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id",
"name", "type", "body"}]}`, each id the SHA-256 of its body).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Registered documents of automatic persisted queries.")

MANIFEST_FORMAT = "apollo-persisted-query-manifest"


def _documents_of(path: Path) -> tuple[list[str], list[str]]:
    """The documents a file holds, and what is wrong with it."""
    from domain.persisted_queries import sha256_of

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return [], [f"{path}: cannot be read ({error})"]
    if path.suffix != ".json":
        return [text], []
    try:
        manifest: Any = json.loads(text)
    except json.JSONDecodeError as error:
        return [], [f"{path}: not JSON ({error.msg}, line {error.lineno})"]
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return [], [f'{path}: not a manifest ("format": "{MANIFEST_FORMAT}")']
    operations = manifest.get("operations")
    if manifest.get("version") != 1 or not isinstance(operations, list):
        return [], [f'{path}: a manifest of version 1 with a list of "operations" is expected']
    documents, problems = [], []
    for index, operation in enumerate(operations):
        place = f"{path}: operations[{index}]"
        body = operation.get("body") if isinstance(operation, dict) else None
        if not isinstance(body, str):
            problems.append(f"{place}: no body")
        elif operation.get("id") != sha256_of(body):
            problems.append(f"{place}: its id is not the SHA-256 of its body")
        else:
            documents.append(body)
    return documents, problems


@app.command("add")
def add(
    files: Annotated[
        list[Path], typer.Argument(help=".graphql files, or Apollo persisted-query manifests")
    ],
) -> None:
    """Register documents, all or none: each must parse and validate against the schema."""
    from graphql import GraphQLError

    from api.schema import build_schema
    from cli.process import settings_or_exit, with_database
    from domain import persisted_queries

    settings = settings_or_exit()
    schema = build_schema(settings)
    documents, problems = [], []
    for path in files:
        found, wrong = _documents_of(path)
        problems += wrong
        for document in found:
            try:
                errors = schema.check_document(document)[1]
            except GraphQLError as error:
                errors = [error]
            problems += [f"{path}: {error.message}" for error in errors]
            documents.append(document)
    if problems:
        for problem in problems:
            typer.echo(problem, err=True)
        typer.echo("Nothing registered.", err=True)
        raise typer.Exit(1)
    added = with_database(
        persisted_queries.register_all(documents, limit=settings.persisted_queries_max)
    )
    if added is None:
        typer.echo(
            f"Refused: more than {settings.persisted_queries_max} documents would be registered "
            "(INVITATIONS_PERSISTED_QUERIES_MAX). Nothing registered.",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"Registered {added} new of {len(set(documents))} documents.")


@app.command("list")
def listing() -> None:
    """The hash and first line of every registered document, oldest first."""
    from cli.process import with_database
    from domain import persisted_queries

    for sha256, document in with_database(persisted_queries.registered()):
        first_line = document.strip().splitlines()[0] if document.strip() else ""
        typer.echo(f"{sha256}\t{first_line[:80]}")
