from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# Shared by the replicas: a lease per periodic job (the expiry sweep), and the abuse limits'
# counters when INVITATIONS_RATE_LIMIT_STORAGE=database (models/leases.py).


class Migration(migrations.Migration):
    dependencies = [('models', '0006_bulk_operations')]

    operations = [
        ops.CreateModel(
            name="Lease",
            fields=[
                ("name", fields.CharField(max_length=64, primary_key=True)),
                ("holder", fields.CharField(max_length=64)),
                ("expires_at", fields.DatetimeField()),
            ],
            options={"table": "lease", "app": "models", "pk_attr": "name"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RateLimitCounter",
            fields=[
                ("key", fields.CharField(max_length=128, primary_key=True)),
                ("count", fields.IntField()),
                ("expires_at", fields.FloatField(db_index=True)),
            ],
            options={"table": "rate_limit_counter", "app": "models", "pk_attr": "key"},
            bases=["Model"],
        ),
    ]
