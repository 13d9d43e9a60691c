from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# The audit log is append-only: the database itself refuses to change or delete an event.
# (PostgreSQL's TRUNCATE, an owner's deliberate act, is left for retention.)
_APPEND_ONLY = {
    "postgres": [
        "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$",
        "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event"
        " FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    ],
    "sqlite": [
        "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event"
        " BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
        "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event"
        " BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    ],
}
_ALLOW_CHANGES = {
    "postgres": [
        "DROP TRIGGER audit_event_append_only ON audit_event",
        "DROP FUNCTION audit_event_append_only()",
    ],
    "sqlite": ["DROP TRIGGER audit_event_no_update", "DROP TRIGGER audit_event_no_delete"],
}


def _run(statements):
    async def run(apps, schema_editor):
        # Straight to the client: the SQLite editor splits statements at ";", and a trigger has one inside.
        for sql in statements[schema_editor.client.capabilities.dialect]:
            await schema_editor.client.execute_query(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [('models', '0003_customer_owner_team')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AdminSession',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('key_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('client_ip', fields.CharField(null=True, max_length=45)),
            ],
            options={'table': 'admin_session', 'app': 'models', 'indexes': [Index(fields=['user_id', 'revoked_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('actor_user', fields.ForeignKeyField('models.User', source_field='actor_user_id', null=True, db_constraint=True, to_field='id', related_name='audit_events', on_delete=OnDelete.RESTRICT)),
                ('actor_token_id', fields.BigIntField(null=True)),
                ('action', fields.CharField(max_length=50)),
                ('entity_type', fields.CharField(max_length=30)),
                ('entity_id', fields.BigIntField(null=True)),
                ('changes', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('client_ip', fields.CharField(null=True, max_length=45)),
            ],
            options={'table': 'audit_event', 'app': 'models', 'indexes': [Index(fields=['entity_type', 'entity_id']), Index(fields=['actor_user_id', 'at']), Index(fields=['at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.RunPython(_run(_APPEND_ONLY), reverse_code=_run(_ALLOW_CHANGES)),
    ]
