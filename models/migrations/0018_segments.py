from tortoise import migrations
from tortoise.migrations import operations as ops
from models.segments import Stage, Tier
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0017_follow_ups')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CustomerSegment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.OneToOneField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='segment', on_delete=OnDelete.CASCADE)),
                ('recency_days', fields.IntField(null=True)),
                ('frequency', fields.IntField()),
                ('monetary', fields.DecimalField(max_digits=18, decimal_places=2)),
                ('paid_orders', fields.IntField()),
                ('touches', fields.IntField()),
                ('first_paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('r', fields.SmallIntField(null=True)),
                ('f', fields.SmallIntField(null=True)),
                ('m', fields.SmallIntField(null=True)),
                ('tier', fields.CharEnumField(description='VIP: vip\nACTIVE: active\nPOTENTIAL: potential\nDORMANT: dormant', enum_type=Tier, max_length=10)),
                ('stage', fields.CharEnumField(description='PROSPECT: prospect\nNEW: new\nACTIVE: active\nLOYAL: loyal\nAT_RISK: at_risk\nCHURNED: churned', enum_type=Stage, max_length=10)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'customer_segment', 'app': 'models', 'indexes': [Index(fields=['tier', 'customer_id']), Index(fields=['stage', 'customer_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ExchangeRate',
            fields=[
                ('currency', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=3)),
                ('rate', fields.DecimalField(max_digits=18, decimal_places=8)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'exchange_rate', 'app': 'models', 'pk_attr': 'currency', 'table_description': 'What one unit of ``currency`` is worth in the base currency.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SegmentChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='segment_changes', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('from_tier', fields.CharField(null=True, max_length=10)),
                ('to_tier', fields.CharField(max_length=10)),
                ('from_stage', fields.CharField(null=True, max_length=10)),
                ('to_stage', fields.CharField(max_length=10)),
            ],
            options={'table': 'segment_change', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'at']), Index(fields=['at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
