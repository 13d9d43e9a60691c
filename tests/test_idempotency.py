"""Idempotency keys in the domain: a replay returns the first result and writes nothing again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from models.access import User, viewer_of
from models.customers import Customer, create_customer
from models.errors import DomainError, ErrorCode
from models.idempotency import IdempotencyKey, once, sweep
from models.interactions import Interaction, log_interaction
from models.scope import Scope


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
