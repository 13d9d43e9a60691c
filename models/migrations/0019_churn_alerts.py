from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# One open alert a customer, whatever runs at once: the sweep's INSERT … ON CONFLICT names it.
async def _forward(apps, schema_editor):
    await schema_editor.client.execute_query(
        "CREATE UNIQUE INDEX churn_alert_open ON churn_alert (customer_id) WHERE status = 'open'"
    )


async def _backward(apps, schema_editor):
    await schema_editor.client.execute_query("DROP INDEX churn_alert_open")


class Migration(migrations.Migration):
    dependencies = [('models', '0018_segments')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChurnAlert',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='churn_alerts', on_delete=OnDelete.CASCADE)),
                ('assignee', fields.ForeignKeyField('models.User', source_field='assignee_id', null=True, db_constraint=True, to_field='id', related_name='churn_alerts', on_delete=OnDelete.SET_NULL)),
                ('status', fields.CharField(default='open', max_length=8)),
                ('last_paid_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('days_since', fields.IntField()),
                ('threshold_days', fields.IntField()),
                ('opened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'churn_alert', 'app': 'models', 'indexes': [Index(fields=['status', 'opened_at', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.RunPython(_forward, reverse_code=_backward),
    ]
