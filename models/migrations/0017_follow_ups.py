from tortoise import migrations
from tortoise.migrations import operations as ops
from models.follow_ups import FollowUpStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0016_complaint_due_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FollowUp',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='follow_ups', on_delete=OnDelete.CASCADE)),
                ('assignee', fields.ForeignKeyField('models.User', source_field='assignee_id', db_constraint=True, to_field='id', related_name='follow_ups', on_delete=OnDelete.RESTRICT)),
                ('due_on', fields.DateField()),
                ('purpose', fields.CharField(max_length=500)),
                ('status', fields.CharEnumField(default=FollowUpStatus.OPEN, description='OPEN: open\nDONE: done\nCANCELLED: cancelled', enum_type=FollowUpStatus, max_length=10)),
                ('outcome', fields.TextField(null=True, unique=False)),
                ('interaction', fields.ForeignKeyField('models.Interaction', source_field='interaction_id', null=True, db_constraint=True, to_field='id', related_name='follow_up', on_delete=OnDelete.SET_NULL)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='scheduled_follow_ups', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'follow_up', 'app': 'models', 'indexes': [Index(fields=['assignee_id', 'status', 'due_on', 'id']), Index(fields=['customer_id', 'due_on', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
