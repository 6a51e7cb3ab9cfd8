from tortoise import migrations
from tortoise.migrations import operations as ops
from models.webhooks import WebhookDeliveryState, WebhookEventType
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

# Webhooks (SPEC §13): the endpoints, with their encrypted signing secrets, and the outbox of
# deliveries, one row per event and endpoint, claimed by the workers through (state, next_attempt_at).


class Migration(migrations.Migration):
    dependencies = [('models', '0007_leases_and_rate_limits')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WebhookEndpoint',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('url', fields.CharField(max_length=2048)),
                ('description', fields.CharField(null=True, max_length=255)),
                ('events', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('enabled', fields.BooleanField(default=True)),
                ('disabled_reason', fields.CharField(null=True, max_length=255)),
                ('secret_encrypted', fields.TextField(unique=False)),
                ('previous_secret_encrypted', fields.TextField(null=True, unique=False)),
                ('previous_secret_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('failing_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_endpoint', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A URL that receives a signed POST for each event it subscribes to.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('endpoint', fields.ForeignKeyField('models.WebhookEndpoint', source_field='endpoint_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('webhook_id', fields.CharField(unique=True, max_length=64)),
                ('event', fields.CharEnumField(description='INVITATION_CREATED: invitation.created\nINVITATION_SENT: invitation.sent\nINVITATION_ACCEPTED: invitation.accepted\nINVITATION_CANCELED: invitation.canceled\nINVITATION_EXPIRED: invitation.expired\nINVITATION_DELIVERY_FAILED: invitation.delivery_failed', enum_type=WebhookEventType, max_length=32)),
                ('body', fields.TextField(unique=False)),
                ('state', fields.CharEnumField(default=WebhookDeliveryState.PENDING, description='PENDING: PENDING\nDELIVERED: DELIVERED\nFAILED: FAILED', enum_type=WebhookDeliveryState, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('last_status_code', fields.IntField(null=True)),
                ('last_error', fields.CharField(null=True, max_length=255)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lease_id', fields.CharField(null=True, max_length=36)),
                ('lease_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_delivery', 'app': 'models', 'indexes': [Index(fields=['state', 'next_attempt_at']), Index(fields=['endpoint_id', 'id'])], 'pk_attr': 'id', 'table_description': 'One event for one endpoint: its frozen body, and where its delivery stands.'},
            bases=['Model'],
        ),
    ]
