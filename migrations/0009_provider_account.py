from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

# Principals of the store's identity provider (SPEC §11): (issuer, sub) and the customer or admin
# user it signs in as, created on first sight.


class Migration(migrations.Migration):
    dependencies = [("models", "0008_webhooks")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ProviderAccount",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("issuer", fields.CharField(max_length=255)),
                ("subject", fields.CharField(max_length=255)),
                ("customer", fields.ForeignKeyField("models.Customer", source_field="customer_id", db_constraint=True, to_field="id", related_name=False, null=True, on_delete=OnDelete.CASCADE)),
                ("admin", fields.ForeignKeyField("models.AdminUser", source_field="admin_id", db_constraint=True, to_field="id", related_name=False, null=True, on_delete=OnDelete.CASCADE)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "provider_account", "app": "models", "unique_together": (("issuer", "subject"),), "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
