from tortoise import migrations
from tortoise.migrations import operations as ops

# PostgreSQL estimates how many rows `phone LIKE '%3812345%'` matches by trying the pattern on
# the column's histogram: when one of its 100 phones happens to match, it expects 1% of all
# customers, prefers walking the date index to find 20 of them, and reads the whole team
# (40 ms instead of 0.6). Phones and emails are unique, so their histogram says nothing about
# a pattern: with (almost) none, the estimate comes from the pattern's length, which is right.
_COLUMNS = ("phone", "email")


async def _set_statistics(schema_editor, target: int) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    for column in _COLUMNS:
        await client.execute_query(f"ALTER TABLE customer ALTER COLUMN {column} SET STATISTICS {target}")
    await client.execute_query(f"ANALYZE customer ({', '.join(_COLUMNS)})")


async def _forward(apps, schema_editor):
    await _set_statistics(schema_editor, 1)


async def _backward(apps, schema_editor):
    await _set_statistics(schema_editor, -1)  # PostgreSQL's default target


class Migration(migrations.Migration):
    dependencies = [('models', '0008_search_indexes_without_pending_list')]

    initial = False

    operations = [
        ops.RunPython(_forward, reverse_code=_backward),
    ]
