"""Substring search of e-mail addresses through a trigram index, kept in the writing transaction.

The grid's `email` and `invitee` filters look for a substring of `invitation.email_key` and
`customer.email_key` (the case-folded addresses) with `LIKE '%…%'`, which no B-tree can serve: at
a million invitations each search read every address. A trigram index answers which rows hold
every three-character piece of the needle, a small superset of the matches; the LIKE, left as it
is, then decides among them, so the results are exactly the LIKE's.

- **PostgreSQL**: a `pg_trgm` GIN index on each `email_key`. The planner uses it for the LIKE
  itself (pg_trgm always rechecks a LIKE against the row), for the page and its COUNT alike, and
  scans instead when the index cannot narrow (a needle with no three letters or digits in a row,
  e.g. shorter than 3 characters). `pg_trgm` ships with Debian's PostgreSQL; it is a trusted
  extension, so a role with CREATE on the database may install it.
- **SQLite**: an FTS5 table with the `trigram` tokenizer per searched table (`invitation_search`,
  `customer_search`), with external content: it holds only the index, the addresses stay in
  their table (and no column sizes: nothing ranks the matches). Triggers keep it inside the
  writing transaction (insert, update of the address or id, delete), as
  `models.invitation_counts` keeps the counts. `candidates` narrows a search to the ids whose
  address holds the needle as an FTS5 phrase (case-folded trigrams: a superset of the LIKE's
  matches). FTS5 matches no phrase shorter than 3 characters, so such needles get no narrowing
  and scan, as before; nor does a needle found in too many rows (`_narrows`), for which the scan
  is cheaper. (PostgreSQL's planner makes the same choice from its statistics.)

Rows written with the triggers off (bench/grid.py's bulk load) need `install`, which rebuilds the
index from the table, as migration 0013 does for the rows that exist when it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pypika_tortoise import SqlContext
from pypika_tortoise.terms import Term, ValueWrapper
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

CONNECTION = "default"
# The tables whose `email_key` is searched, each by its integer primary key `id`.
SEARCHED = ("invitation", "customer")
# FTS5's trigram tokenizer matches no phrase shorter than this (in characters).
MIN_INDEXED_LENGTH = 3
# How many candidate rows a search may have for the index to serve it (see `_narrows`).
MIN_PROBE = 1_000
MAX_PROBE = 20_000


def _is_postgres(client: BaseDBAsyncClient) -> bool:
    return client.capabilities.dialect == "postgres"


def _sqlite_statements(table: str) -> list[str]:
    search = f"{table}_search"
    insert = f"INSERT INTO {search} (rowid, email_key) VALUES (NEW.id, NEW.email_key)"
    # An external-content FTS5 table forgets a row when told the values it indexed.
    delete = (
        f"INSERT INTO {search} ({search}, rowid, email_key) "
        "VALUES ('delete', OLD.id, OLD.email_key)"
    )
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {search} USING fts5("
        f"email_key, content='{table}', content_rowid='id', tokenize='trigram', columnsize=0)",
        f"CREATE TRIGGER IF NOT EXISTS {search}_insert AFTER INSERT ON {table} BEGIN {insert}; END",
        f"CREATE TRIGGER IF NOT EXISTS {search}_update AFTER UPDATE OF id, email_key ON {table} "
        "WHEN OLD.id IS NOT NEW.id OR OLD.email_key IS NOT NEW.email_key "
        f"BEGIN {delete}; {insert}; END",
        f"CREATE TRIGGER IF NOT EXISTS {search}_delete AFTER DELETE ON {table} BEGIN {delete}; END",
        # Reads every row of the table into the index (a no-op on an empty table).
        f"INSERT INTO {search} ({search}) VALUES ('rebuild')",
    ]


def _postgres_statements(table: str) -> list[str]:
    return [
        f"CREATE INDEX IF NOT EXISTS idx_{table}_email_key_trgm ON {table} "
        "USING gin (email_key gin_trgm_ops)"
    ]


def install_statements(client: BaseDBAsyncClient) -> Sequence[str]:
    """The DDL that creates the index over the rows there are, and keeps it (one statement each).
    PostgreSQL: writers of the tables wait while an index is built."""
    if _is_postgres(client):
        return [
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            *(s for table in SEARCHED for s in _postgres_statements(table)),
        ]
    return [s for table in SEARCHED for s in _sqlite_statements(table)]


def drop_statements(client: BaseDBAsyncClient) -> Sequence[str]:
    """The DDL that removes the index and its triggers (the extension stays: others may use it)."""
    if _is_postgres(client):
        return [f"DROP INDEX IF EXISTS idx_{table}_email_key_trgm" for table in SEARCHED]
    return [
        statement
        for table in SEARCHED
        for statement in (
            f"DROP TRIGGER IF EXISTS {table}_search_insert",
            f"DROP TRIGGER IF EXISTS {table}_search_update",
            f"DROP TRIGGER IF EXISTS {table}_search_delete",
            f"DROP TABLE IF EXISTS {table}_search",
        )
    ]


async def _run(client: BaseDBAsyncClient, statements: Sequence[str]) -> None:
    # One statement per call: trigger bodies hold ';', on which Tortoise's script runner splits.
    for statement in statements:
        await client.execute_query(statement)


async def install(client: BaseDBAsyncClient) -> None:
    await _run(client, install_statements(client))


async def drop(client: BaseDBAsyncClient) -> None:
    await _run(client, drop_statements(client))


class _PhraseMatches(Term):
    """`(SELECT rowid FROM <table>_search WHERE <table>_search MATCH ?)` with the needle as one
    FTS5 phrase, bound as a parameter."""

    def __init__(self, table: str, needle: str) -> None:
        super().__init__()
        self.table = table
        # An FTS5 string: inside double quotes, a double quote is written twice.
        self.phrase = '"' + needle.replace('"', '""') + '"'

    def get_sql(self, ctx: SqlContext) -> str:
        search = f"{self.table}_search"
        phrase = ValueWrapper(self.phrase).get_sql(ctx)
        return f"(SELECT rowid FROM {search} WHERE {search} MATCH {phrase})"


async def candidates(table: str, needle: str, *, id_path: str) -> Q | None:
    """A condition on `id_path` (the ORM path of an id of `table`) that keeps at least every row
    whose `email_key` holds `needle`, read from the trigram index: never a search on its own, AND
    it with the LIKE. None when the LIKE should decide alone: on PostgreSQL (its own index serves
    the LIKE), for a needle too short for trigrams, and for one too common to narrow (see
    `_narrows`)."""
    assert table in SEARCHED, table
    client = connections.get(CONNECTION)
    if _is_postgres(client) or len(needle) < MIN_INDEXED_LENGTH:
        return None
    term = _PhraseMatches(table, needle)
    if not await _narrows(client, table, term.phrase):
        return None
    among: dict[str, Any] = {f"{id_path}__in": term}
    return Q(**among)


async def _narrows(client: BaseDBAsyncClient, table: str, phrase: str) -> bool:
    """Whether the phrase picks few enough rows for the index to beat a scan.

    A candidate costs a few microseconds (FTS5 walks the position lists of the needle's
    trigrams, then the row is read and the LIKE applied), a scanned row under one: at a million
    invitations a needle found in every address costs 5 to 7 s through the index and 0.7 s scanned.
    So the candidates are counted up to a tenth of the table (by its highest id), between
    MIN_PROBE and MAX_PROBE rows, which costs at most a few tens of milliseconds; a phrase that
    reaches the limit is left to the scan."""
    search = f"{table}_search"
    rows = await client.execute_query_dict(
        f"WITH probe(n) AS (SELECT MIN(?, MAX(?, COALESCE(MAX(id), 0) / 10)) FROM {table}) "
        f"SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM {search} WHERE {search} MATCH ? "
        "LIMIT (SELECT n FROM probe))) < (SELECT n FROM probe) AS narrows",
        [MAX_PROBE, MIN_PROBE, phrase],
    )
    return bool(rows[0]["narrows"])
