from tortoise import migrations
from tortoise.migrations import operations as ops
from models.loyalty import EntryKind, Level
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# Each reward once, whatever runs at the same time (models/loyalty.py): one EARN per order, one
# REFERRAL per referred customer and level, one REVERSAL and one EXPIRE per lot. And what the
# refund, what is left of a lot, and the expiry sweep read.
_INDEXES = [
    "CREATE UNIQUE INDEX points_earned_once ON points_entry (order_id) WHERE kind = 'earn'",
    "CREATE UNIQUE INDEX points_referral_once ON points_entry (referred_id, level) WHERE kind = 'referral'",
    "CREATE UNIQUE INDEX points_reversed_once ON points_entry (lot_id) WHERE kind = 'reversal'",
    "CREATE UNIQUE INDEX points_expired_once ON points_entry (lot_id) WHERE kind = 'expire'",
    "CREATE INDEX points_by_lot ON points_entry (lot_id) WHERE lot_id IS NOT NULL",
    "CREATE INDEX points_by_order ON points_entry (order_id) WHERE order_id IS NOT NULL",
    "CREATE INDEX points_expiring ON points_entry (expires_at) WHERE points > 0",
]
_DROP_INDEXES = [
    "DROP INDEX points_earned_once", "DROP INDEX points_referral_once", "DROP INDEX points_reversed_once",
    "DROP INDEX points_expired_once", "DROP INDEX points_by_lot", "DROP INDEX points_by_order", "DROP INDEX points_expiring",
]
# The ledger is append-only, as the audit log is (migration 0004).
_APPEND_ONLY = {
    "postgres": [
        "CREATE FUNCTION points_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION 'points_entry is append-only'; END $$",
        "CREATE TRIGGER points_entry_append_only BEFORE UPDATE OR DELETE ON points_entry"
        " FOR EACH ROW EXECUTE FUNCTION points_entry_append_only()",
    ],
    "sqlite": [
        "CREATE TRIGGER points_entry_no_update BEFORE UPDATE ON points_entry"
        " BEGIN SELECT RAISE(ABORT, 'points_entry is append-only'); END",
        "CREATE TRIGGER points_entry_no_delete BEFORE DELETE ON points_entry"
        " BEGIN SELECT RAISE(ABORT, 'points_entry is append-only'); END",
    ],
}
_ALLOW_CHANGES = {
    "postgres": ["DROP TRIGGER points_entry_append_only ON points_entry", "DROP FUNCTION points_entry_append_only()"],
    "sqlite": ["DROP TRIGGER points_entry_no_update", "DROP TRIGGER points_entry_no_delete"],
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
    dependencies = [('models', '0020_pool_settings_saved_segments')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LevelChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='level_changes', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('from_level', fields.CharEnumField(description='MEMBER: member\nSILVER: silver\nGOLD: gold\nPLATINUM: platinum', enum_type=Level, max_length=10)),
                ('to_level', fields.CharEnumField(description='MEMBER: member\nSILVER: silver\nGOLD: gold\nPLATINUM: platinum', enum_type=Level, max_length=10)),
                ('points', fields.BigIntField()),
            ],
            options={'table': 'level_change', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'at'])], 'pk_attr': 'id', 'table_description': 'A promotion or demotion, with the points that decided it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LoyaltySweep',
            fields=[
                ('id', fields.SmallIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('expired_through', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('levelled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'loyalty_sweep', 'app': 'models', 'pk_attr': 'id', 'table_description': 'How far the sweep has gone (one row): lots expired through ``expired_through``, levels'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Membership',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.OneToOneField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='membership', on_delete=OnDelete.CASCADE)),
                ('level', fields.CharEnumField(description='MEMBER: member\nSILVER: silver\nGOLD: gold\nPLATINUM: platinum', enum_type=Level, max_length=10)),
                ('since', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'membership', 'app': 'models', 'pk_attr': 'id', 'table_description': "A customer's membership level, as the sweep last drew it."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='points_entries', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='EARN: earn\nREFERRAL: referral\nADJUST: adjust\nREDEEM: redeem\nEXPIRE: expire\nREVERSAL: reversal', enum_type=EntryKind, max_length=10)),
                ('points', fields.BigIntField(description='Signed: earned points are positive, spent ones negative.')),
                ('at', fields.DatetimeField(description="When the points were earned or spent (an order's: when it was paid).", auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('order_id', fields.BigIntField(null=True, description='The order that earned it, or whose payment or refund caused it.')),
                ('referred_id', fields.BigIntField(null=True, description='REFERRAL: the referred customer whose first payment it rewards.')),
                ('level', fields.SmallIntField(null=True, description="REFERRAL: 1 for the referrer, 2 for the referrer's referrer.")),
                ('lot_id', fields.BigIntField(null=True, description='REVERSAL, EXPIRE: the points earned (an entry) it takes from.')),
                ('reason', fields.CharField(null=True, max_length=200)),
                ('by_user_id', fields.BigIntField(null=True, description='Who wrote it by hand (ADJUST, REDEEM).')),
                ('recorded_at', fields.DatetimeField(description='When it was written.', auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'points_entry', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'id']), Index(fields=['recorded_at'])], 'pk_attr': 'id', 'table_description': "One line of a customer's ledger, never changed once written."},
            bases=['Model'],
        ),
        ops.RunPython(_forward, reverse_code=_backward),
    ]
