"""Exact counts of invitations by the grid's common dimensions, kept by database triggers.

`invitation_count` holds one row per combination of the dimensions the grid's usual filters
take — stored status, website, store view, invitee group, "created by an admin" (no inviting
customer) and delivery state — with the number of invitations that have it. Triggers on
`invitation` (INSERT, UPDATE of those columns, DELETE; TRUNCATE too on PostgreSQL) change the
counts inside the writing transaction, so they are exactly as committed as the rows themselves,
whatever writes them (the ORM, a bulk INSERT, COPY, a console). Rows whose count fell to 0 stay
(the combinations are few); `rebuild` recounts everything from `invitation`.

SQLite fires a row trigger per row. PostgreSQL fires one statement trigger per statement with
the changed rows as transition tables, and adds their counts grouped (a bulk insert of 10,000
rows, or a COPY of a million, costs one upsert per combination). Concurrent writers of the same
combination wait for each other on its summary row until they commit; each statement takes the
rows in key order, so two single statements do not deadlock on them (transactions of several
statements that touch the same combinations in opposite orders could; PostgreSQL then aborts one).

On SQLite, Tortoise reports the rows a statement changed as the connection's total_changes,
which counts the trigger writes too: an UPDATE of one invitation reports 3. Truthiness is still
right (no row matched, no trigger fired); code that needs the exact number counts RETURNING rows
(mailer/outbox.py).

`count_in_scope` answers the grid's totalCount from these rows plus, when a status filter has to
tell an open invitation past its expiry (which reads EXPIRED) from one that is not, an exact
count of the open rows whose `expires_at` has passed — one range of the partial index of the
invitations with a lifetime (migration 0004), empty when invitations do not expire.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import connections, fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.invitation import OPEN_STATUSES, DeliveryState, InvitationStatus

CONNECTION = "default"

# The dimensions as columns of invitation_count, and how each is read from an invitation row.
DIMENSIONS = (
    ("status", "status"),
    ("website_id", "website_id"),
    ("store_view_id", "store_view_id"),
    ("invitee_group_key", "COALESCE({row}.invitee_group_id, 0)"),
    ("by_admin", "({row}.inviter_id IS NULL)"),
    ("delivery_state", "delivery_state"),
)
KEY = ", ".join(column for column, _ in DIMENSIONS)
# The columns of invitation whose change moves a row to another combination.
SOURCE_COLUMNS = (
    "status",
    "website_id",
    "store_view_id",
    "invitee_group_id",
    "inviter_id",
    "delivery_state",
)


class InvitationCount(Model):
    """How many invitations have one combination of the grid's common dimensions."""

    id = fields.IntField(primary_key=True)
    status = fields.CharField(max_length=16)
    website_id = fields.IntField()
    store_view_id = fields.IntField()
    # The invitee group's id, 0 for the default group (NULL would not meet the unique key).
    invitee_group_key = fields.IntField()
    # No inviting customer: what the grid's createdByAdmin filter means.
    by_admin = fields.BooleanField()
    delivery_state = fields.CharField(max_length=16)
    n = fields.BigIntField()

    class Meta:
        table = "invitation_count"
        unique_together = (
            (
                "status",
                "website_id",
                "store_view_id",
                "invitee_group_key",
                "by_admin",
                "delivery_state",
            ),
        )


def _value_list(row: str) -> list[str]:
    """The dimension values of a row of invitation named `row` (NEW, OLD or an alias)."""
    return [
        source.format(row=row) if "{row}" in source else f"{row}.{source}"
        for _, source in DIMENSIONS
    ]


def _values(row: str) -> str:
    return ", ".join(_value_list(row))


def _where_key(row: str) -> str:
    return " AND ".join(
        f"{column} = {value}"
        for (column, _), value in zip(DIMENSIONS, _value_list(row), strict=True)
    )


def _sqlite_upsert(row: str) -> str:
    return (
        f"INSERT INTO invitation_count ({KEY}, n) VALUES ({_values(row)}, 1) "
        f"ON CONFLICT ({KEY}) DO UPDATE SET n = n + 1"
    )


def _sqlite_decrement(row: str) -> str:
    return f"UPDATE invitation_count SET n = n - 1 WHERE {_where_key(row)}"


_CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in SOURCE_COLUMNS)

SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS invitation_count_insert AFTER INSERT ON invitation "
    f"BEGIN {_sqlite_upsert('NEW')}; END",
    f"CREATE TRIGGER IF NOT EXISTS invitation_count_update AFTER UPDATE OF "
    f"{', '.join(SOURCE_COLUMNS)} ON invitation WHEN {_CHANGED} "
    f"BEGIN {_sqlite_decrement('OLD')}; {_sqlite_upsert('NEW')}; END",
    "CREATE TRIGGER IF NOT EXISTS invitation_count_delete AFTER DELETE ON invitation "
    f"BEGIN {_sqlite_decrement('OLD')}; END",
)
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS invitation_count_insert",
    "DROP TRIGGER IF EXISTS invitation_count_update",
    "DROP TRIGGER IF EXISTS invitation_count_delete",
)


def _pg_add(select: str) -> str:
    """Adds the (combination, delta) rows of `select` to the counts, in key order."""
    return (
        f"INSERT INTO invitation_count ({KEY}, n) {select} "
        f"ON CONFLICT ({KEY}) DO UPDATE SET n = invitation_count.n + EXCLUDED.n"
    )


_GROUP = "GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6"

POSTGRES_TRIGGERS = (
    f"""CREATE OR REPLACE FUNCTION invitation_count_apply() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_pg_add(f"SELECT {_values('r')}, COUNT(*) FROM new_rows r {_GROUP}")};
  ELSIF TG_OP = 'DELETE' THEN
    {_pg_add(f"SELECT {_values('r')}, -COUNT(*) FROM old_rows r {_GROUP}")};
  ELSE
    {
        _pg_add(
            f"SELECT {KEY}, SUM(d) FROM ("
            f"SELECT {_values('r')}, 1 AS d FROM new_rows r UNION ALL "
            f"SELECT {_values('r')}, -1 AS d FROM old_rows r"
            f") AS moved({KEY}, d) {_GROUP.replace('ORDER', 'HAVING SUM(d) <> 0 ORDER')}"
        )
    };
  END IF;
  RETURN NULL;
END
$body$""",
    """CREATE OR REPLACE FUNCTION invitation_count_truncate() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
  DELETE FROM invitation_count;
  RETURN NULL;
END
$body$""",
    "CREATE OR REPLACE TRIGGER invitation_count_insert AFTER INSERT ON invitation "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION invitation_count_apply()",
    "CREATE OR REPLACE TRIGGER invitation_count_update AFTER UPDATE ON invitation "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION invitation_count_apply()",
    "CREATE OR REPLACE TRIGGER invitation_count_delete AFTER DELETE ON invitation "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION invitation_count_apply()",
    "CREATE OR REPLACE TRIGGER invitation_count_truncate AFTER TRUNCATE ON invitation "
    "FOR EACH STATEMENT EXECUTE FUNCTION invitation_count_truncate()",
)
POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS invitation_count_insert ON invitation",
    "DROP TRIGGER IF EXISTS invitation_count_update ON invitation",
    "DROP TRIGGER IF EXISTS invitation_count_delete ON invitation",
    "DROP TRIGGER IF EXISTS invitation_count_truncate ON invitation",
    "DROP FUNCTION IF EXISTS invitation_count_apply()",
    "DROP FUNCTION IF EXISTS invitation_count_truncate()",
)


def _is_postgres(client: BaseDBAsyncClient) -> bool:
    return client.capabilities.dialect == "postgres"


def trigger_statements(client: BaseDBAsyncClient) -> Sequence[str]:
    """The DDL that creates the triggers on this database (each one statement)."""
    return POSTGRES_TRIGGERS if _is_postgres(client) else SQLITE_TRIGGERS


def rebuild_statements(client: BaseDBAsyncClient) -> Sequence[str]:
    """Recounts every combination from invitation (PostgreSQL: writers wait meanwhile)."""
    lock = ["LOCK TABLE invitation IN SHARE MODE"] if _is_postgres(client) else []
    return [
        *lock,
        "DELETE FROM invitation_count",
        f"INSERT INTO invitation_count ({KEY}, n) "
        f"SELECT {_values('invitation')}, COUNT(*) FROM invitation {_GROUP}",
    ]


async def _run(client: BaseDBAsyncClient, statements: Sequence[str]) -> None:
    # One statement per call: Tortoise's SQLite script runner splits on ';', which trigger
    # bodies contain, and sqlite3's executescript would commit an open transaction.
    for statement in statements:
        await client.execute_query(statement)


async def install_triggers(client: BaseDBAsyncClient) -> None:
    await _run(client, trigger_statements(client))


async def drop_triggers(client: BaseDBAsyncClient) -> None:
    await _run(client, POSTGRES_DROP if _is_postgres(client) else SQLITE_DROP)


async def rebuild(client: BaseDBAsyncClient | None = None) -> None:
    """Recounts invitation_count from invitation, in the transaction `client` is in (a
    migration's), or in one of its own."""
    if client is not None:
        await _run(client, rebuild_statements(client))
        return
    async with in_transaction(CONNECTION) as transaction:
        await _run(transaction, rebuild_statements(transaction))


# ---------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class CountScope:
    """A grid filter made only of the summary's dimensions (empty or None: not filtered)."""

    statuses: Collection[InvitationStatus] = ()
    delivery_states: Collection[DeliveryState] = ()
    website_ids: Collection[int] = ()
    store_view_ids: Collection[int] = ()
    invitee_group_ids: Collection[int] = ()
    created_by_admin: bool | None = None

    def where(self, *, summary: bool) -> tuple[list[str], list[Any]]:
        """The dimension conditions (not the status) on invitation_count or on invitation."""
        clauses: list[str] = []
        params: list[Any] = []

        def among(column: str, values: Collection[Any]) -> None:
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(sorted(values))

        among("delivery_state", {str(state) for state in self.delivery_states})
        among("website_id", set(self.website_ids))
        among("store_view_id", set(self.store_view_ids))
        among("invitee_group_key" if summary else "invitee_group_id", set(self.invitee_group_ids))
        if self.created_by_admin is not None:
            if summary:
                clauses.append("by_admin = ?")
                params.append(self.created_by_admin)
            else:
                clauses.append(f"inviter_id IS {'' if self.created_by_admin else 'NOT '}NULL")
        return clauses, params


def _select(sql: str, clauses: list[str]) -> str:
    return f"({sql} WHERE {' AND '.join(clauses)})" if clauses else f"({sql})"


async def count_in_scope(scope: CountScope, now: datetime) -> int:
    """How many invitations the grid shows for `scope` at `now`, exactly.

    The stored statuses are summed from invitation_count. An open (NOT_SENT/SENT) invitation
    whose expires_at has passed reads EXPIRED, so when the filter takes an open status but not
    EXPIRED those rows are subtracted, and when it takes EXPIRED but not that open status they are
    added: both are counted from the (status, expires_at) index, where they are the only entries
    in range (none when invitations do not expire). All parts are read by one statement, so from
    one snapshot.
    """
    wanted = {InvitationStatus(s) for s in scope.statuses}
    dims, dim_params = scope.where(summary=True)
    row_dims, row_params = scope.where(summary=False)
    parts: list[str] = []
    params: list[Any] = []
    statuses = sorted(s.value for s in wanted)
    status_in = [f"status IN ({', '.join('?' * len(statuses))})"] if statuses else []
    parts.append(_select("SELECT SUM(n) FROM invitation_count", [*dims, *status_in]))
    params += [*dim_params, *statuses]
    expired = InvitationStatus.EXPIRED in wanted
    less = sorted(s.value for s in OPEN_STATUSES if s in wanted and not expired)
    more = sorted(s.value for s in OPEN_STATUSES if s not in wanted and expired)
    for passed in (less, more):
        if not passed:
            parts.append("0")
            continue
        open_in = f"status IN ({', '.join('?' * len(passed))})"
        parts.append(
            _select("SELECT COUNT(*) FROM invitation", [open_in, "expires_at <= ?", *row_dims])
        )
        params += [*passed, now, *row_params]
    client = connections.get(CONNECTION)
    sql = f"SELECT {parts[0]} AS stored, {parts[1]} AS less, {parts[2]} AS more"
    if _is_postgres(client):
        pieces = sql.split("?")
        sql = "".join(f"{p}${i}" for i, p in enumerate(pieces[:-1], start=1)) + pieces[-1]
    row = (await client.execute_query_dict(sql, params))[0]
    return int(row["stored"] or 0) - int(row["less"] or 0) + int(row["more"] or 0)
