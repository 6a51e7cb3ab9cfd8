from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from models.invitation_counts import drop_triggers, install_triggers, rebuild, rebuild_statements, trigger_statements

# The grid's totalCount from a summary table kept by triggers (see models/invitation_counts.py).
#
# The triggers go in through RunPython rather than RunSQL: Tortoise's SQLite migration runner
# splits RunSQL text on ';', and a trigger body holds several statements. Each DDL statement is
# one execute_query call, inside the migration's transaction on both databases. The existing rows
# are counted once by `rebuild` (PostgreSQL: writers wait for it). The SQL is the current one of
# models/invitation_counts.py: changing the dimensions later takes a new migration that drops
# and recreates the triggers and rebuilds.


async def install(apps, schema_editor) -> None:
    client = schema_editor.client
    if schema_editor.collect_sql:
        schema_editor.collected_sql.extend([*trigger_statements(client), *rebuild_statements(client)])
        return
    await install_triggers(client)
    await rebuild(client)


async def uninstall(apps, schema_editor) -> None:
    if not schema_editor.collect_sql:
        await drop_triggers(schema_editor.client)


class Migration(migrations.Migration):
    dependencies = [("models", "0003_grid_indexes")]

    operations = [
        ops.CreateModel(
            name="InvitationCount",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("status", fields.CharField(max_length=16)),
                ("website_id", fields.IntField()),
                ("store_view_id", fields.IntField()),
                ("invitee_group_key", fields.IntField()),
                ("by_admin", fields.BooleanField()),
                ("delivery_state", fields.CharField(max_length=16)),
                ("n", fields.BigIntField()),
            ],
            options={
                "table": "invitation_count",
                "app": "models",
                "unique_together": (
                    ("status", "website_id", "store_view_id", "invitee_group_key", "by_admin", "delivery_state"),
                ),
                "pk_attr": "id",
                "table_description": "How many invitations have one combination of the grid's common dimensions.",
            },
            bases=["Model"],
        ),
        ops.RunPython(install, reverse_code=uninstall),
        # The open invitations whose expiry has passed read EXPIRED: a status count corrects the
        # stored counts by them, counted from this index alone (models/invitation_counts.py). Only
        # invitations with a lifetime are in it.
        ops.RunSQL(
            "CREATE INDEX idx_invitation_expiring ON invitation (status, expires_at, website_id, "
            "store_view_id, invitee_group_id, inviter_id, delivery_state) WHERE expires_at IS NOT NULL",
            reverse_sql="DROP INDEX idx_invitation_expiring",
        ),
    ]
