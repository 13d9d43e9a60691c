from tortoise import migrations
from tortoise.migrations import operations as ops
from models.complaints import Channel, Status
from models.notifications import Kind
from models.service_levels import DayKind, Priority, monday_to_friday
from models.timeline import EventKind
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

# What the queue and the sweep read (models/complaints.py, models/escalation.py), with their
# conditions as literals: with 100,000 open complaints beside a million closed ones, each reads
# the open ones alone, in due order.
_OPEN = "('new', 'acknowledged', 'in_progress', 'waiting_on_customer', 'reopened')"
_RUNNING = "('new', 'acknowledged', 'in_progress', 'reopened')"
_INDEXES = [
    f"CREATE INDEX complaint_open_due ON complaint (due_at, id) WHERE status IN {_OPEN}",
    "CREATE INDEX complaint_first_response_overdue ON complaint (first_response_due_at)"
    f" WHERE status IN {_OPEN} AND first_responded_at IS NULL AND NOT first_response_breached",
    "CREATE INDEX complaint_resolution_overdue ON complaint (resolution_due_at)"
    f" WHERE status IN {_RUNNING} AND NOT resolution_breached",
    "CREATE INDEX notification_unread ON notification (user_id, created_at) WHERE read_at IS NULL",
]
_DROP_INDEXES = [
    "DROP INDEX complaint_open_due", "DROP INDEX complaint_first_response_overdue",
    "DROP INDEX complaint_resolution_overdue", "DROP INDEX notification_unread",
]
# A timeline is append-only, as the audit log is (migration 0004).
_APPEND_ONLY = {
    "postgres": [
        "CREATE FUNCTION complaint_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION 'complaint_event is append-only'; END $$",
        "CREATE TRIGGER complaint_event_append_only BEFORE UPDATE OR DELETE ON complaint_event"
        " FOR EACH ROW EXECUTE FUNCTION complaint_event_append_only()",
    ],
    "sqlite": [
        "CREATE TRIGGER complaint_event_no_update BEFORE UPDATE ON complaint_event"
        " BEGIN SELECT RAISE(ABORT, 'complaint_event is append-only'); END",
        "CREATE TRIGGER complaint_event_no_delete BEFORE DELETE ON complaint_event"
        " BEGIN SELECT RAISE(ABORT, 'complaint_event is append-only'); END",
    ],
}
_ALLOW_CHANGES = {
    "postgres": ["DROP TRIGGER complaint_event_append_only ON complaint_event", "DROP FUNCTION complaint_event_append_only()"],
    "sqlite": ["DROP TRIGGER complaint_event_no_update", "DROP TRIGGER complaint_event_no_delete"],
}


async def _forward(apps, schema_editor):
    client = schema_editor.client
    for sql in _INDEXES + _APPEND_ONLY[client.capabilities.dialect]:
        await client.execute_query(sql)


async def _backward(apps, schema_editor):
    client = schema_editor.client
    for sql in _ALLOW_CHANGES[client.capabilities.dialect] + _DROP_INDEXES:
        await client.execute_query(sql)


class Migration(migrations.Migration):
    dependencies = [('models', '0013_refusals_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CalendarDay',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField(unique=True)),
                ('kind', fields.CharEnumField(description='HOLIDAY: holiday\nWORKDAY: workday', enum_type=DayKind, max_length=8)),
                ('name', fields.CharField(default='', max_length=100)),
            ],
            options={'table': 'calendar_day', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A date that departs from the weekly hours: a holiday, or a make-up working day.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Complaint',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('reference', fields.CharField(unique=True, max_length=20)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='complaints', on_delete=OnDelete.RESTRICT)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', null=True, db_constraint=True, to_field='id', related_name='complaints', on_delete=OnDelete.SET_NULL)),
                ('subject', fields.CharField(max_length=200)),
                ('description', fields.TextField(unique=False)),
                ('channel', fields.CharEnumField(description='PHONE: phone\nEMAIL: email\nWECHAT: wechat\nWEB: web\nSTORE: store\nAPP: app', enum_type=Channel, max_length=8)),
                ('category', fields.CharField(max_length=32)),
                ('priority', fields.CharEnumField(description='LOW: low\nNORMAL: normal\nHIGH: high\nURGENT: urgent', enum_type=Priority, max_length=8)),
                ('urgency', fields.SmallIntField()),
                ('status', fields.CharEnumField(default=Status.NEW, description='NEW: new\nACKNOWLEDGED: acknowledged\nIN_PROGRESS: in_progress\nWAITING_ON_CUSTOMER: waiting_on_customer\nRESOLVED: resolved\nREOPENED: reopened\nCLOSED: closed\nCANCELLED: cancelled', enum_type=Status, max_length=24)),
                ('assignee', fields.ForeignKeyField('models.User', source_field='assignee_id', null=True, db_constraint=True, to_field='id', related_name='assigned_complaints', on_delete=OnDelete.SET_NULL)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', null=True, db_constraint=True, to_field='id', related_name='complaints', on_delete=OnDelete.SET_NULL)),
                ('filed_by', fields.ForeignKeyField('models.User', source_field='filed_by_id', null=True, db_constraint=True, to_field='id', related_name='filed_complaints', on_delete=OnDelete.SET_NULL)),
                ('escalation_level', fields.SmallIntField(default=0)),
                ('working_time', fields.BooleanField(default=False)),
                ('first_response_minutes', fields.IntField()),
                ('resolution_minutes', fields.IntField()),
                ('first_response_due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('resolution_due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('paused_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('paused_seconds', fields.BigIntField(default=0)),
                ('first_response_breached', fields.BooleanField(default=False)),
                ('resolution_breached', fields.BooleanField(default=False)),
                ('first_responded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolution_note', fields.TextField(null=True, unique=False)),
                ('survey_issued_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('survey_token_hash', fields.CharField(null=True, unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'complaint', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'created_at', 'id']), Index(fields=['assignee_id', 'status']), Index(fields=['team_id', 'status']), Index(fields=['created_at', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ComplaintCategory',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=32)),
                ('label', fields.CharField(max_length=100)),
                ('active', fields.BooleanField(default=True)),
            ],
            options={'table': 'complaint_category', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ComplaintEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('complaint', fields.ForeignKeyField('models.Complaint', source_field='complaint_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.RESTRICT)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('actor_user', fields.ForeignKeyField('models.User', source_field='actor_user_id', null=True, db_constraint=True, to_field='id', related_name='complaint_events', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='FILED: filed\nASSIGNED: assigned\nSTATUS_CHANGED: status_changed\nNOTE: note\nREPLY: reply\nESCALATED: escalated\nSURVEY_ANSWERED: survey_answered', enum_type=EventKind, max_length=16)),
                ('from_status', fields.CharField(null=True, max_length=24)),
                ('to_status', fields.CharField(null=True, max_length=24)),
                ('body', fields.TextField(null=True, unique=False)),
                ('data', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'complaint_event', 'app': 'models', 'indexes': [Index(fields=['complaint_id', 'at', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ComplaintSequence',
            fields=[
                ('year', fields.IntField(generated=False, primary_key=True, unique=True, db_index=True)),
                ('last_number', fields.BigIntField()),
            ],
            options={'table': 'complaint_sequence', 'app': 'models', 'pk_attr': 'year', 'table_description': 'The last reference number handed out in a year.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE)),
                ('complaint', fields.ForeignKeyField('models.Complaint', source_field='complaint_id', db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='ASSIGNED: assigned\nESCALATED: escalated', enum_type=Kind, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('read_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notification', 'app': 'models', 'indexes': [Index(fields=['user_id', 'created_at', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SlaPolicy',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('priority', fields.CharEnumField(unique=True, description='LOW: low\nNORMAL: normal\nHIGH: high\nURGENT: urgent', enum_type=Priority, max_length=8)),
                ('first_response_minutes', fields.IntField()),
                ('resolution_minutes', fields.IntField()),
                ('working_time', fields.BooleanField(default=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'sla_policy', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SurveyAnswer',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('complaint', fields.OneToOneField('models.Complaint', source_field='complaint_id', db_constraint=True, to_field='id', related_name='survey_answer', on_delete=OnDelete.RESTRICT)),
                ('csat', fields.SmallIntField()),
                ('nps', fields.SmallIntField(null=True)),
                ('comment', fields.TextField(null=True, unique=False)),
                ('via', fields.CharField(max_length=8)),
                ('answered_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'survey_answer', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WorkingHours',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('timezone', fields.CharField(default='Asia/Shanghai', max_length=64)),
                ('day_start', fields.CharField(default='09:00', max_length=5)),
                ('day_end', fields.CharField(default='18:00', max_length=5)),
                ('weekdays', fields.JSONField(default=monday_to_friday, encoder=JSON_DUMPS, decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'working_hours', 'app': 'models', 'pk_attr': 'id', 'table_description': "The one row of the working calendar's weekly hours (id 1)."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Team',
            name='lead_id',
            field=fields.BigIntField(null=True),
        ),
        ops.RunPython(_forward, reverse_code=_backward),
    ]
