"""Idempotency keys in the domain: a replay returns the first result and writes nothing again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from models.access import Role, User, viewer_of
from models.customers import Customer, create_customer, update_customer
from models.errors import DomainError, ErrorCode
from models.idempotency import IdempotencyKey, once, sweep
from models.interactions import Interaction, log_interaction
from models.orders import record_order
from models.scope import Scope
from models.staff import create_team, create_user, update_role, update_user
from schema.ids import to_global_id
from tests.conftest import PASSWORD, ask, staff

SYSTEM = Scope.of_system()


@pytest.fixture
async def scope(clean_db) -> Scope:
    user = await User.create(email="mobile@example.com", display_name="M", password_hash="!", is_superuser=True)
    return await Scope.for_viewer(await viewer_of(user))


async def _log(scope: Scope, customer_id: int, summary: str, key: str | None):
    """What a key keeps: the id of what the write made, not the row."""
    data = {"kind": "call", "direction": "outbound", "summary": summary}

    async def run():
        return {"interaction": (await log_interaction(scope, customer_id, data))["id"]}

    return await once(scope, key, "logInteraction", [customer_id, data], run, log_interaction.check)


async def _create(scope: Scope, data: dict, key: str):
    async def run():
        return {"customer": (await create_customer(scope, data))["id"]}

    return await once(scope, key, "createCustomer", data, run, create_customer.check)


async def test_a_replay_returns_the_first_result_and_writes_nothing(scope):
    customer = await create_customer(scope, {"name": "张伟"})
    first = await _log(scope, customer["id"], "called back", "retry-1")
    again = await _log(scope, customer["id"], "called back", "retry-1")
    assert again == first and first == {"interaction": (await Interaction.get()).id}
    assert await Interaction.filter(customer_id=customer["id"]).count() == 1
    assert await IdempotencyKey.filter(key="retry-1").count() == 1

    other = await _log(scope, customer["id"], "called back", "retry-2")  # a new key is a new write
    assert other["interaction"] != first["interaction"]
    assert await Interaction.filter(customer_id=customer["id"]).count() == 2


async def test_the_same_key_with_other_input_is_refused(scope):
    customer = await create_customer(scope, {"name": "张伟"})
    await _log(scope, customer["id"], "called back", "k")
    with pytest.raises(DomainError) as refused:
        await _log(scope, customer["id"], "something else", "k")
    assert refused.value.errors[0].code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    assert refused.value.errors[0].field == "idempotencyKey"
    assert await Interaction.filter(customer_id=customer["id"]).count() == 1


async def test_a_failed_write_keeps_no_key_so_its_retry_runs(scope):
    data = {"name": "李娜", "phone": "not a phone"}
    for _ in range(2):
        with pytest.raises(DomainError):
            await _create(scope, data, "create-1")
    assert await IdempotencyKey.all().count() == 0
    fixed = {"name": "李娜", "phone": "13812345678"}
    with pytest.raises(DomainError) as reused:  # nothing was stored, but the key stands for its input once used
        await _create(scope, fixed, "create-1")
        await _create(scope, data, "create-1")
    assert reused.value.errors[0].code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    assert await Customer.filter(name="李娜").count() == 1


async def test_concurrent_replays_write_once(scope):
    customer = await create_customer(scope, {"name": "王芳"})
    results = await asyncio.gather(*(_log(scope, customer["id"], "flaky network", "burst") for _ in range(5)))
    assert len({r["interaction"] for r in results}) == 1
    assert await Interaction.filter(customer_id=customer["id"]).count() == 1


async def test_keys_are_kept_two_days_then_swept(scope):
    customer = await create_customer(scope, {"name": "赵敏"})
    await _log(scope, customer["id"], "x", "old")
    await _log(scope, customer["id"], "y", "new")
    assert await sweep(datetime.now(UTC) + timedelta(hours=24)) == 0
    await IdempotencyKey.filter(key="old").update(created_at=datetime.now(UTC) - timedelta(hours=49))
    assert await sweep() == 1
    assert await IdempotencyKey.filter(key="new").exists()


LOG = """mutation($input: LogInteractionInput!) { logInteraction(input: $input) {
  interaction { id summary occurredAt customer { name } } errors { field code } } }"""
ORDER = """mutation($input: RecordOrderInput!) { recordOrder(input: $input) { order { id amount currency status placedAt } errors { code } } }"""


async def test_over_the_api_a_retried_write_returns_the_same_payload_and_writes_once(gql):
    made = await gql.data('mutation { createCustomer(input: {name: "张伟", idempotencyKey: "c-1"}) { customer { id } errors { code } } }')
    again = await gql.data('mutation { createCustomer(input: {name: "张伟", idempotencyKey: "c-1"}) { customer { id } errors { code } } }')
    assert again == made and await Customer.filter(name="张伟").count() == 1
    customer = made["createCustomer"]["customer"]["id"]

    entry = {"customerId": customer, "kind": "CALL", "direction": "INBOUND", "summary": "flaky network", "idempotencyKey": "i-1"}
    first = await gql.data(LOG, {"input": entry})
    assert await gql.data(LOG, {"input": entry}) == first
    assert await Interaction.all().count() == 1

    order = {"customerId": customer, "amount": "99.90", "currency": "CNY", "idempotencyKey": "o-1"}
    assert await gql.data(ORDER, {"input": order}) == await gql.data(ORDER, {"input": order})
    from models.orders import Order

    assert await Order.all().count() == 1

    reused = await gql.data(LOG, {"input": {**entry, "summary": "something else"}})
    assert reused["logInteraction"] == {"interaction": None, "errors": [{"field": "idempotencyKey", "code": "IDEMPOTENCY_KEY_REUSED"}]}
    assert await Interaction.all().count() == 1


async def test_a_write_whose_answer_is_a_secret_takes_no_key(gql):
    body = await gql('mutation { createApiToken(input: {name: "x", userId: "VXNlcjox", idempotencyKey: "t"}) { token } }')
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert await IdempotencyKey.all().count() == 0


REPLAYED = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
  customer { id name tags interactions(first: 5) { edges { node { summary } } } orders(first: 5) { edges { node { amount } } }
             orderCount lifetimeValue { amount } }
  errors { code message } } }"""
SALES = ["customer.read", "customer.create", "customer.update", "interaction.create", "order.create"]


async def test_a_replay_does_not_reopen_a_customer_the_caller_can_no_longer_see(clean_db, as_user):
    # Given a salesperson of East who created a customer with a key, then moved to West
    east, west = (await create_team(SYSTEM, "East"))["id"], (await create_team(SYSTEM, "West"))["id"]
    sales = as_user(await staff("sales@example.com", SALES, "TEAM", east))
    made = await ask(sales, REPLAYED, {"input": {"name": "张伟", "idempotencyKey": "new-customer-1"}})
    customer_id = made["data"]["createCustomer"]["customer"]["id"]
    pk = (await Customer.get()).id
    user = await User.get(email="sales@example.com")
    await update_user(SYSTEM, user.id, {"team_id": west})
    # and East went on working the customer
    await log_interaction(SYSTEM, pk, {"kind": "call", "direction": "inbound", "summary": "wants the premium plan"})
    await record_order(SYSTEM, pk, {"amount": Decimal("999.00"), "currency": "CNY", "status": "paid"})
    await update_customer(SYSTEM, pk, {"tags": ["whale"]})

    # When the old request is sent again
    replay = await ask(sales, REPLAYED, {"input": {"name": "张伟", "idempotencyKey": "new-customer-1"}})

    # Then it answers as a read would now: the customer is absent, nothing of it leaks, nothing is written
    assert replay["data"]["createCustomer"] == {"customer": None, "errors": []}
    assert (await ask(sales, "query($id: ID!) { customer(id: $id) { id } }", {"id": customer_id}))["data"] == {"customer": None}
    for secret in ("premium", "999", "whale"):
        assert secret not in str(replay)
    assert await Customer.all().count() == 1


async def test_a_replay_asks_for_the_permission_again(clean_db, as_user):
    sales = as_user(await staff("sales@example.com", SALES, "ALL"))
    entry = {"input": {"name": "李娜", "idempotencyKey": "k"}}
    assert (await ask(sales, REPLAYED, entry))["data"]["createCustomer"]["errors"] == []
    role = await Role.get(name="role of sales@example.com")
    await update_role(SYSTEM, role.id, {"permissions": []})

    replay = await ask(sales, REPLAYED, entry)

    assert replay["data"]["createCustomer"]["customer"] is None
    assert [e["code"] for e in replay["data"]["createCustomer"]["errors"]] == ["FORBIDDEN"]
    assert await Customer.all().count() == 1


async def test_a_replay_answers_the_objects_as_they_are_now(gql):
    entry = {"input": {"name": "王芳", "idempotencyKey": "k"}}
    first = (await gql.data(REPLAYED, entry))["createCustomer"]["customer"]
    await update_customer(SYSTEM, (await Customer.get()).id, {"name": "王芳芳"})
    again = (await gql.data(REPLAYED, entry))["createCustomer"]["customer"]
    assert again["id"] == first["id"] and again["name"] == "王芳芳"
    assert await Customer.all().count() == 1


async def test_a_key_past_its_retention_is_absent_whether_swept_or_not(gql):
    entry = {"input": {"name": "赵敏", "idempotencyKey": "old"}}
    await gql.data(REPLAYED, entry)
    await IdempotencyKey.filter(key="old").update(created_at=datetime.now(UTC) - timedelta(hours=49))

    other = await gql.data(REPLAYED, {"input": {"name": "周杰", "idempotencyKey": "old"}})  # not REUSED: the key is gone

    assert other["createCustomer"]["errors"] == [] and other["createCustomer"]["customer"]["name"] == "周杰"
    assert await Customer.all().count() == 2
    kept = await IdempotencyKey.get(key="old")
    assert kept.created_at > datetime.now(UTC) - timedelta(minutes=1) and kept.operation == "createCustomer"


async def test_the_fingerprint_names_the_mutation_not_its_payload_type(gql):
    target = await create_user(SYSTEM, "li@example.com", "Li", PASSWORD)
    user_id = to_global_id("User", target["id"])
    deactivate = "mutation($id: ID!) { deactivateUser(input: {id: $id, idempotencyKey: \"k\"}) { user { isActive } errors { code } } }"
    reactivate = "mutation($id: ID!) { reactivateUser(input: {id: $id, idempotencyKey: \"k\"}) { user { isActive } errors { code } } }"
    assert (await gql.data(deactivate, {"id": user_id}))["deactivateUser"] == {"user": {"isActive": False}, "errors": []}

    reused = await gql.data(reactivate, {"id": user_id})

    assert reused["reactivateUser"] == {"user": None, "errors": [{"code": "IDEMPOTENCY_KEY_REUSED"}]}
    assert not (await User.get(id=target["id"])).is_active
