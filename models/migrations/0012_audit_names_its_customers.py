import json

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# An audit event about customer data names its customer(s), so that the log is read under the
# reader's scope. Events written before are given theirs: a customer's own id, an interaction's
# or an order's customer, a link's two ends and a change of referrer's referrer from the
# recorded change (the link may be gone).
# The log refuses UPDATE by trigger (0004): the owner lifts it for this one statement set.
_BACKFILL = [
    "UPDATE audit_event SET customer_id = entity_id WHERE entity_type = 'customer'",
    "UPDATE audit_event SET customer_id = (SELECT i.customer_id FROM interaction i WHERE i.id = audit_event.entity_id)"
    " WHERE entity_type = 'interaction'",
    "UPDATE audit_event SET customer_id = (SELECT o.customer_id FROM orders o WHERE o.id = audit_event.entity_id)"
    " WHERE entity_type = 'order'",
]
_FROM_CHANGES = {
    "postgres": [
        "UPDATE audit_event SET"
        " customer_id = COALESCE(changes->'from_customer_id'->>'to', changes->'from_customer_id'->>'from')::bigint,"
        " other_customer_id = COALESCE(changes->'to_customer_id'->>'to', changes->'to_customer_id'->>'from')::bigint"
        " WHERE entity_type = 'customer_link'",
        "UPDATE audit_event SET"
        " other_customer_id = COALESCE(changes->'referrer_id'->>'to', changes->'referrer_id'->>'from')::bigint"
        " WHERE action = 'customer.set_referrer'",
    ],
    "sqlite": [
        "UPDATE audit_event SET"
        " customer_id = COALESCE(json_extract(changes, '$.from_customer_id.to'), json_extract(changes, '$.from_customer_id.from')),"
        " other_customer_id = COALESCE(json_extract(changes, '$.to_customer_id.to'), json_extract(changes, '$.to_customer_id.from'))"
        " WHERE entity_type = 'customer_link'",
        "UPDATE audit_event SET"
        " other_customer_id = COALESCE(json_extract(changes, '$.referrer_id.to'), json_extract(changes, '$.referrer_id.from'))"
        " WHERE action = 'customer.set_referrer'",
    ],
}
_UNLOCK = {
    "postgres": ["ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"],
    "sqlite": ["DROP TRIGGER audit_event_no_update"],
}
_LOCK = {
    "postgres": ["ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"],
    "sqlite": [
        "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event"
        " BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
    ],
}


async def _name_the_customers(apps, schema_editor):
    client = schema_editor.client
    dialect = client.capabilities.dialect
    for sql in [*_UNLOCK[dialect], *_BACKFILL, *_FROM_CHANGES[dialect], *_LOCK[dialect]]:
        await client.execute_query(sql)


# Idempotency keys kept whole rows of their first answer, tagged by payload type; a replay now
# keeps ids only and reads its objects again under the caller's scope, and names the mutation.
# Keys of a payload type that several mutations share (a user's, a role's, a team's) cannot be
# told apart: they go, so that their retry runs afresh (each such write lands on the same state
# twice over; creating a team is the exception, and an admin's, not a mobile client's).
_MUTATION_OF = {
    "CreateCustomerPayload": "createCustomer",
    "UpdateCustomerPayload": "updateCustomer",
    "DeleteCustomerPayload": "deleteCustomer",
    "SetReferrerPayload": "setReferrer",
    "LinkCustomersPayload": "linkCustomers",
    "UnlinkCustomersPayload": "unlinkCustomers",
    "LogInteractionPayload": "logInteraction",
    "RecordOrderPayload": "recordOrder",
    "DeleteRolePayload": "deleteRole",
    "RevokeApiTokenPayload": "revokeApiToken",
}


def _ids_only(tagged):
    """``{"$dict": [[field, value], …]}`` with each row (itself a ``$dict``) replaced by its id."""
    if not isinstance(tagged, dict) or "$dict" not in tagged:
        return tagged
    kept = {}
    for name, value in tagged["$dict"]:
        if isinstance(value, dict) and "$dict" in value:
            value = dict(value["$dict"])["id"]
        kept[name] = value
    return kept


async def _keys_keep_ids(apps, schema_editor):
    client = schema_editor.client
    mark = "$" if client.capabilities.dialect == "postgres" else "?"
    for row in await client.execute_query_dict("SELECT id, operation, result FROM idempotency_key"):
        mutation = _MUTATION_OF.get(row["operation"])
        if mutation is None:
            await client.execute_query(f"DELETE FROM idempotency_key WHERE id = {mark}1", [row["id"]])
            continue
        result = row["result"]
        result = _ids_only(json.loads(result) if isinstance(result, str) else result)
        await client.execute_query(
            f"UPDATE idempotency_key SET operation = {mark}1, result = {mark}2 WHERE id = {mark}3",
            [mutation, json.dumps(result, separators=(",", ":")), row["id"]],
        )


async def _nothing(apps, schema_editor):
    """Going back, the names go with their columns."""


async def _forget_keys(apps, schema_editor):
    """Going back, the code before cannot read what keys keep now: they go, and their retries run afresh."""
    await schema_editor.client.execute_query("DELETE FROM idempotency_key")


class Migration(migrations.Migration):
    dependencies = [('models', '0011_paid_orders_index')]

    initial = False

    operations = [
        ops.AddField(
            model_name='AuditEvent',
            name='customer_id',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='AuditEvent',
            name='other_customer_id',
            field=fields.BigIntField(null=True),
        ),
        ops.RunPython(_name_the_customers, reverse_code=_nothing),
        ops.RunPython(_keys_keep_ids, reverse_code=_forget_keys),
    ]
