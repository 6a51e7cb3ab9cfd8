from tortoise import migrations
from tortoise.migrations import operations as ops
from models.bulk import BulkAction, BulkStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# Bulk operations ("Select All", SPEC §12): the operation, and one item per selected invitation
# with its outcome. Chunks claim pending items through the (operation_id, state, id) index.


class Migration(migrations.Migration):
    dependencies = [('models', '0005_email_template')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BulkOperation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('action', fields.CharEnumField(description='DISCARD: DISCARD\nRESEND: RESEND', enum_type=BulkAction, max_length=16)),
                ('status', fields.CharEnumField(default=BulkStatus.QUEUED, description='QUEUED: QUEUED\nRUNNING: RUNNING\nCOMPLETED: COMPLETED\nCANCELED: CANCELED\nFAILED: FAILED', enum_type=BulkStatus, max_length=16)),
                ('actor', fields.CharField(max_length=128)),
                ('total', fields.IntField(default=0)),
                ('processed', fields.IntField(default=0)),
                ('succeeded', fields.IntField(default=0)),
                ('skipped', fields.IntField(default=0)),
                ('failures', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'bulk_operation', 'app': 'models', 'indexes': [Index(fields=['status', 'id'])], 'pk_attr': 'id', 'table_description': 'One "Select All" action: what, by whom, and how far it has got.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BulkOperationItem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('operation', fields.ForeignKeyField('models.BulkOperation', source_field='operation_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('invitation_id', fields.IntField()),
                ('state', fields.SmallIntField(default=0)),
                ('code', fields.CharField(null=True, max_length=32)),
                ('message', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'bulk_operation_item', 'app': 'models', 'indexes': [Index(fields=['operation_id', 'state', 'id'])], 'pk_attr': 'id', 'table_description': "One invitation of an operation's selection, and its outcome once handled."},
            bases=['Model'],
        ),
    ]
