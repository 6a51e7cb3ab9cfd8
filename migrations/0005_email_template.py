import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# A store's own invitation e-mail templates (domain/email_templates.py).


class Migration(migrations.Migration):
    dependencies = [("models", "0004_invitation_count")]

    operations = [
        ops.CreateModel(
            name="EmailTemplate",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("code", fields.CharField(unique=True, max_length=64)),
                ("name", fields.CharField(max_length=255)),
                ("variants", fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads)),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "email_template", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
