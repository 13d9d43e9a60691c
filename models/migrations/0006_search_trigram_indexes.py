from tortoise import migrations
from tortoise.migrations import operations as ops

# Search looks for text anywhere in a name, email or phone (LIKE '%…%'), which a b-tree
# cannot serve. On PostgreSQL, trigram GIN indexes can, for any 3 characters or more: a
# partial phone number finds its customers without reading the table. SQLite has no such
# index; its scans stay, which is fine at the sizes SQLite serves.
_COLUMNS = ("name", "email", "phone")


async def _forward(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    await client.execute_query("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in _COLUMNS:
        await client.execute_query(
            f"CREATE INDEX customer_{column}_trgm ON customer USING gin ({column} gin_trgm_ops)"
        )


async def _backward(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    for column in _COLUMNS:
        await client.execute_query(f"DROP INDEX customer_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [('models', '0005_idempotency_keys')]

    initial = False

    operations = [
        ops.RunPython(_forward, reverse_code=_backward),
    ]
