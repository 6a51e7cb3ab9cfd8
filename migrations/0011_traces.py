from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# Traces (docs/operations.md): the W3C traceparent of the request that queued an invitation's
# e-mail, so that the mailer's send continues its trace. NULL while tracing is off.


class Migration(migrations.Migration):
    dependencies = [("models", "0010_service_key")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Invitation",
            name="traceparent",
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
