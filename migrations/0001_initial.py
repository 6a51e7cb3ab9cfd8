from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.accounts import TokenKind
from models.invitation import DeliveryState, InvitationStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AdminUser',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(unique=True, max_length=64)),
                ('password_hash', fields.CharField(max_length=255)),
                ('permissions', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('is_active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('failed_sign_ins', fields.IntField(default=0)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'admin_user', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An admin user with a set of permissions, created from the command line.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ConfigValue',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('scope', fields.CharField(max_length=16)),
                ('scope_id', fields.IntField(default=0)),
                ('path', fields.CharField(max_length=128)),
                ('value', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'config_value', 'app': 'models', 'unique_together': (('scope', 'scope_id', 'path'),), 'pk_attr': 'id', 'table_description': "A scoped configuration value, like Magento's core_config_data."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CustomerGroup',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=64)),
            ],
            options={'table': 'customer_group', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A customer group (General, Wholesale, Retailer, ...).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Website',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=255)),
                ('default_group', fields.ForeignKeyField('models.CustomerGroup', source_field='default_group_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'website', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A website: customers and their e-mail addresses belong to one.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Customer',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('website', fields.ForeignKeyField('models.Website', source_field='website_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('group', fields.ForeignKeyField('models.CustomerGroup', source_field='group_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('email', fields.CharField(max_length=320)),
                ('email_key', fields.CharField(max_length=320)),
                ('firstname', fields.CharField(max_length=255)),
                ('lastname', fields.CharField(max_length=255)),
                ('password_hash', fields.CharField(max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('failed_sign_ins', fields.IntField(default=0)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'customer', 'app': 'models', 'unique_together': (('website_id', 'email_key'),), 'pk_attr': 'id', 'table_description': 'A storefront customer: the e-mail is unique per website, compared case-insensitively.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AccessToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('kind', fields.CharEnumField(description='CUSTOMER: customer\nADMIN: admin', enum_type=TokenKind, max_length=16)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('admin', fields.ForeignKeyField('models.AdminUser', source_field='admin_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'access_token', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A bearer token: only its SHA-256 is stored, so the table alone signs nobody in.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StoreView',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=255)),
                ('locale', fields.CharField(default='en_US', max_length=16)),
                ('website', fields.ForeignKeyField('models.Website', source_field='website_id', db_constraint=True, to_field='id', related_name='store_views', on_delete=OnDelete.RESTRICT)),
                ('base_url', fields.CharField(max_length=1024)),
                ('invitation_url_template', fields.CharField(default='{base_url}customer/account/create/?invitation={code}', max_length=1024)),
                ('is_default', fields.BooleanField(default=False)),
                ('sort_order', fields.IntField(default=0)),
            ],
            options={'table': 'store_view', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A store view of a website: its language, storefront URL and the link in its emails.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Invitation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('email', fields.CharField(max_length=320)),
                ('email_key', fields.CharField(max_length=320)),
                ('message', fields.TextField(null=True, unique=False)),
                ('status', fields.CharEnumField(default=InvitationStatus.NOT_SENT, description='NOT_SENT: NOT_SENT\nSENT: SENT\nACCEPTED: ACCEPTED\nCANCELED: CANCELED\nEXPIRED: EXPIRED', enum_type=InvitationStatus, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('accepted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('store_view', fields.ForeignKeyField('models.StoreView', source_field='store_view_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('website', fields.ForeignKeyField('models.Website', source_field='website_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('invitee_group', fields.ForeignKeyField('models.CustomerGroup', source_field='invitee_group_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('inviter', fields.ForeignKeyField('models.Customer', source_field='inviter_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('created_by_admin', fields.ForeignKeyField('models.AdminUser', source_field='created_by_admin_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('invitee', fields.ForeignKeyField('models.Customer', source_field='invitee_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('code_nonce', fields.CharField(unique=True, max_length=32)),
                ('delivery_state', fields.CharEnumField(default=DeliveryState.QUEUED, description='QUEUED: QUEUED\nSENDING: SENDING\nDELIVERED: DELIVERED\nFAILED: FAILED\nUNKNOWN: UNKNOWN', enum_type=DeliveryState, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lease_id', fields.CharField(null=True, max_length=36)),
                ('lease_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('message_id', fields.CharField(null=True, max_length=255)),
                ('send_number', fields.IntField(default=1)),
            ],
            options={'table': 'invitation', 'app': 'models', 'unique_together': (('inviter_id', 'email_key'),), 'indexes': [Index(fields=['email_key', 'website_id']), Index(fields=['created_at', 'id']), Index(fields=['sent_at', 'id']), Index(fields=['accepted_at', 'id']), Index(fields=['status', 'id']), Index(fields=['email', 'id']), Index(fields=['website_id', 'id']), Index(fields=['store_view_id', 'id']), Index(fields=['invitee_group_id', 'id']), Index(fields=['invitee_id', 'id']), Index(fields=['created_by_admin_id', 'id']), Index(fields=['delivery_state', 'next_attempt_at'])], 'pk_attr': 'id', 'table_description': 'One invitation to one address, and the outbox row of its e-mail.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InvitationStatusChange',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('invitation', fields.ForeignKeyField('models.Invitation', source_field='invitation_id', db_constraint=True, to_field='id', related_name='history', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(description='NOT_SENT: NOT_SENT\nSENT: SENT\nACCEPTED: ACCEPTED\nCANCELED: CANCELED\nEXPIRED: EXPIRED', enum_type=InvitationStatus, max_length=16)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('actor', fields.CharField(max_length=128)),
            ],
            options={'table': 'invitation_status_change', 'app': 'models', 'indexes': [Index(fields=['invitation_id', 'at'])], 'pk_attr': 'id', 'table_description': "One change of an invitation's status, with its time and actor."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Referral',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('inviter', fields.ForeignKeyField('models.Customer', source_field='inviter_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('invitee', fields.OneToOneField('models.Customer', source_field='invitee_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('invitation', fields.OneToOneField('models.Invitation', source_field='invitation_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referral', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The inviter → invitee track left by an accepted invitation.'},
            bases=['Model'],
        ),
    ]
