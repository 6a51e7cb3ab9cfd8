from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

# Service API keys (OPERATIONS.md "Principals beyond the built-in accounts"): hashed, each with its
# own password-less admin user `service:<name>`.


class Migration(migrations.Migration):
    dependencies = [("models", "0009_provider_account")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ServiceKey",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("name", fields.CharField(unique=True, max_length=64)),
                ("key_hash", fields.CharField(unique=True, max_length=64)),
                ("admin", fields.ForeignKeyField("models.AdminUser", source_field="admin_id", db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("last_used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={"table": "service_key", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
