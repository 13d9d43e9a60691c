from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.customers import Gender, Source
from models.graph import LinkKind
from models.interactions import Direction, InteractionKind
from models.orders import OrderStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Customer',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('phone', fields.CharField(null=True, max_length=16)),
                ('email', fields.CharField(null=True, max_length=254)),
                ('birthday', fields.DateField(null=True)),
                ('gender', fields.CharEnumField(null=True, description='FEMALE: female\nMALE: male\nOTHER: other', enum_type=Gender, max_length=8)),
                ('company', fields.CharField(null=True, max_length=200)),
                ('source', fields.CharEnumField(default=Source.OTHER, description='WEBSITE: website\nWECHAT: wechat\nWEIBO: weibo\nAPP: app\nSTORE: store\nEVENT: event\nREFERRAL: referral\nIMPORT: import\nOTHER: other', enum_type=Source, max_length=16)),
                ('custom_fields', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('notes', fields.TextField(default='', unique=False)),
                ('referrer', fields.ForeignKeyField('models.Customer', source_field='referrer_id', null=True, db_constraint=True, to_field='id', related_name='referrals', on_delete=OnDelete.RESTRICT)),
                ('referred_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('deleted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'customer', 'app': 'models', 'indexes': [Index(fields=['created_at', 'id']), Index(fields=['updated_at', 'id']), Index(fields=['name', 'id']), Index(fields=['referrer_id', 'referred_at', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CustomerLink',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('from_customer', fields.ForeignKeyField('models.Customer', source_field='from_customer_id', db_constraint=True, to_field='id', related_name='links_out', on_delete=OnDelete.CASCADE)),
                ('to_customer', fields.ForeignKeyField('models.Customer', source_field='to_customer_id', db_constraint=True, to_field='id', related_name='links_in', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='FAMILY: family\nFRIEND: friend\nCOLLEAGUE: colleague\nPARTNER: partner\nSUBSIDIARY: subsidiary\nOTHER: other', enum_type=LinkKind, max_length=16)),
                ('note', fields.CharField(default='', max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'customer_link', 'app': 'models', 'unique_together': (('from_customer', 'to_customer', 'kind'),), 'indexes': [Index(fields=['to_customer_id', 'kind'])], 'pk_attr': 'id', 'table_description': "A secondary-customer tie. ``from`` → ``to`` matters for SUBSIDIARY (to is from's)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CustomerTag',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='tag_rows', on_delete=OnDelete.CASCADE)),
                ('tag', fields.CharField(max_length=50)),
            ],
            options={'table': 'customer_tag', 'app': 'models', 'unique_together': (('customer', 'tag'),), 'indexes': [Index(fields=['tag', 'customer_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Interaction',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='interactions', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='CALL: call\nEMAIL: email\nSMS: sms\nWECHAT: wechat\nVISIT: visit\nMEETING: meeting\nNOTE: note', enum_type=InteractionKind, max_length=16)),
                ('direction', fields.CharEnumField(description='INBOUND: inbound\nOUTBOUND: outbound', enum_type=Direction, max_length=8)),
                ('channel', fields.CharField(null=True, max_length=64)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('summary', fields.TextField(unique=False)),
                ('outcome', fields.CharField(null=True, max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'interaction', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'occurred_at', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Order',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.CASCADE)),
                ('amount', fields.DecimalField(max_digits=18, decimal_places=4)),
                ('currency', fields.CharField(max_length=3)),
                ('status', fields.CharEnumField(description='PENDING: pending\nPAID: paid\nREFUNDED: refunded\nCANCELLED: cancelled', enum_type=OrderStatus, max_length=16)),
                ('placed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('payment_due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('channel', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'orders', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'placed_at', 'id']), Index(fields=['customer_id', 'status', 'currency'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
            # A live customer's phone and email are unique; deleted customers free theirs.
        ops.RunSQL(
            [
                "CREATE UNIQUE INDEX customer_live_phone ON customer (phone) "
                "WHERE deleted_at IS NULL AND phone IS NOT NULL",
                "CREATE UNIQUE INDEX customer_live_email ON customer (email) "
                "WHERE deleted_at IS NULL AND email IS NOT NULL",
            ],
            reverse_sql=["DROP INDEX customer_live_phone", "DROP INDEX customer_live_email"],
        ),
    ]
