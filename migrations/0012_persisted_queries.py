from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# Automatic persisted queries (OPERATIONS.md "HTTP, more"): registered documents by their SHA-256,
# shared by every replica on the database.


class Migration(migrations.Migration):
    dependencies = [("models", "0011_traces")]

    initial = False

    operations = [
        ops.CreateModel(
            name="PersistedQuery",
            fields=[
                ("sha256", fields.CharField(max_length=64, primary_key=True)),
                ("document", fields.TextField()),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "persisted_query", "app": "models", "pk_attr": "sha256"},
            bases=["Model"],
        ),
    ]
