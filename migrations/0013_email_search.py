from tortoise import migrations
from tortoise.migrations import operations as ops

from models.email_search import drop, drop_statements, install, install_statements

# The grid's e-mail substring searches through a trigram index (see models/email_search.py):
# PostgreSQL, the pg_trgm extension and a GIN index on invitation.email_key and
# customer.email_key; SQLite, an FTS5 trigram table of each, with the triggers that keep it.
#
# RunPython rather than RunSQL, as in 0004: Tortoise's SQLite runner splits RunSQL text on ';',
# and a trigger body holds several statements. Each statement is one execute_query call inside
# the migration's transaction; the existing rows are indexed here (PostgreSQL: writers of the two
# tables wait for the index builds: for a million invitations 26 s on PostgreSQL and 72 s on
# SQLite, measured on a busy 2-core machine, docs/performance.md).
# The SQL is the current one of models/email_search.py: changing it later takes a new migration.


async def forward(apps, schema_editor) -> None:
    client = schema_editor.client
    if schema_editor.collect_sql:
        schema_editor.collected_sql.extend(install_statements(client))
        return
    await install(client)


async def backward(apps, schema_editor) -> None:
    client = schema_editor.client
    if schema_editor.collect_sql:
        schema_editor.collected_sql.extend(drop_statements(client))
        return
    await drop(client)


class Migration(migrations.Migration):
    dependencies = [("models", "0012_persisted_queries")]

    operations = [ops.RunPython(forward, reverse_code=backward)]
