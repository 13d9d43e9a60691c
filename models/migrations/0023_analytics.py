from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# The answers given so far name their complaint's customer too.
_BACKFILL = "UPDATE survey_answer SET customer_id = (SELECT k.customer_id FROM complaint k WHERE k.id = survey_answer.complaint_id)"
# The complaints resolved in a window (a few of a million), with what the dashboard's resolution
# times and SLA compliance read of them (models/analytics.py), from the index alone.
_INDEXES = [
    "CREATE INDEX complaint_resolved ON complaint (resolved_at, customer_id, created_at, first_response_breached,"
    " resolution_breached) WHERE resolved_at IS NOT NULL",
]
_DROP_INDEXES = ["DROP INDEX complaint_resolved"]


async def _forward(apps, schema_editor):
    for sql in [_BACKFILL, *_INDEXES]:
        await schema_editor.client.execute_query(sql)


async def _backward(apps, schema_editor):
    for sql in _DROP_INDEXES:
        await schema_editor.client.execute_query(sql)


class Migration(migrations.Migration):
    dependencies = [('models', '0022_order_lines')]

    initial = False

    operations = [
        ops.AddField(
            model_name='SurveyAnswer',
            name='customer',
            field=fields.ForeignKeyField('models.Customer', source_field='customer_id', null=True, description="The complaint's customer, kept with the answer so that answers are read by customer without the complaint.", db_constraint=True, to_field='id', related_name='survey_answers', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddIndex(
            model_name='SurveyAnswer',
            index=Index(fields=['answered_at', 'customer_id']),
        ),
        ops.RunPython(_forward, reverse_code=_backward),
    ]
