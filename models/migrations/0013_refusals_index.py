from tortoise import migrations
from tortoise.migrations import operations as ops

# Every write of a phone, an email or a referrer first counts the caller's telling refusals of
# the last minute (models/refusals.py). Through the actor's index that read every event the
# caller wrote in the minute, thousands for a busy integration; refusals are rare, and an index
# of them alone answers at once. The actions are literals, as models/refusals.py states them.
_REFUSALS = "('user.refused_cycle', 'user.refused_duplicate', 'user.refused_hidden_referrer')"


async def _forward(apps, schema_editor):
    await schema_editor.client.execute_query(
        f"CREATE INDEX audit_event_refusals ON audit_event (actor_user_id, at) WHERE action IN {_REFUSALS}"
    )


async def _backward(apps, schema_editor):
    await schema_editor.client.execute_query("DROP INDEX audit_event_refusals")


class Migration(migrations.Migration):
    dependencies = [('models', '0012_audit_names_its_customers')]

    initial = False

    operations = [ops.RunPython(_forward, reverse_code=_backward)]
