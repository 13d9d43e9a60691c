from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0019_churn_alerts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PoolClaim',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='pool_claims', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='pool_claims', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'pool_claim', 'app': 'models', 'indexes': [Index(fields=['user_id', 'at'])], 'pk_attr': 'id', 'table_description': "A claim from the pool, counted against the day's limit."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SavedSegment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=100)),
                ('conditions', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='saved_segments', on_delete=OnDelete.CASCADE)),
                ('shared', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'saved_segment', 'app': 'models', 'unique_together': (('owner', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Setting',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('value', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_by', fields.ForeignKeyField('models.User', source_field='updated_by_id', null=True, db_constraint=True, to_field='id', related_name='settings_changed', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'setting', 'app': 'models', 'pk_attr': 'key'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Customer',
            name='owned_since',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Customer',
            name='released_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Interaction',
            name='logged_by',
            field=fields.ForeignKeyField('models.User', source_field='logged_by_id', null=True, db_constraint=True, to_field='id', related_name='interactions_logged', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['created_at']),
        ),
    ]
