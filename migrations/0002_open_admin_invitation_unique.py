from tortoise import migrations
from tortoise.migrations import operations as ops

# An admin may invite an address again only when no other admin invitation to it is still open on
# that website. A partial unique index (same syntax on SQLite and PostgreSQL) closes the race
# between two admins; Tortoise's UniqueConstraint(condition=...) is PostgreSQL-only.


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [
        ops.RunSQL(
            "CREATE UNIQUE INDEX uniq_open_admin_invitation ON invitation (website_id, email_key) "
            "WHERE inviter_id IS NULL AND status IN ('NOT_SENT', 'SENT')",
            reverse_sql="DROP INDEX uniq_open_admin_invitation",
        ),
    ]
