from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

# What the dashboard's figures read by time (models/analytics.py): the complaints resolved in a
# window (a few of a million), and, by the model's index, the survey answers of a window.
_INDEXES = ["CREATE INDEX complaint_resolved_at ON complaint (resolved_at) WHERE resolved_at IS NOT NULL"]
_DROP_INDEXES = ["DROP INDEX complaint_resolved_at"]


async def _forward(apps, schema_editor):
    for sql in _INDEXES:
        await schema_editor.client.execute_query(sql)


async def _backward(apps, schema_editor):
    for sql in _DROP_INDEXES:
        await schema_editor.client.execute_query(sql)


class Migration(migrations.Migration):
    dependencies = [('models', '0022_order_lines')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='SurveyAnswer',
            index=Index(fields=['answered_at']),
        ),
        ops.RunPython(_forward, reverse_code=_backward),
    ]
