from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_access')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Customer',
            name='owner',
            field=fields.ForeignKeyField('models.User', source_field='owner_id', null=True, db_constraint=True, to_field='id', related_name='customers', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Customer',
            name='team',
            field=fields.ForeignKeyField('models.Team', source_field='team_id', null=True, db_constraint=True, to_field='id', related_name='customers', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddIndex(
            model_name='Customer',
            index=Index(fields=['owner_id']),
        ),
        ops.AddIndex(
            model_name='Customer',
            index=Index(fields=['team_id']),
        ),
    ]
