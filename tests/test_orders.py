"""Orders: recording purchases, money as exact decimals, lifetime value."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from models.orders import Order
from schema.ids import from_global_id

CREATE = 'mutation { createCustomer(input: {name: "A"}) { customer { id } } }'
RECORD = """
mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    order { id amount currency status placedAt paymentDueAt paidAt channel customer { id } }
    errors { field code message }
  }
}
"""
SUMMARY = """
query($id: ID!) {
  customer(id: $id) {
    orderCount lastOrderAt lifetimeValue { amount currency }
    orders(first: 10) { totalCount edges { node { amount status } } }
  }
}
"""


async def new_customer(gql) -> str:
    return (await gql.data(CREATE))["createCustomer"]["customer"]["id"]


async def record(gql, customer: str, **fields) -> dict:
    return (await gql(RECORD, {"input": {"customerId": customer, **fields}}))["data"]["recordOrder"]


async def test_record_a_paid_order(gql):
    customer = await new_customer(gql)
    result = await record(
        gql, customer, amount="1999.90", currency="cny", status="PAID",
        placedAt="2026-05-01T10:00:00Z", channel="tmall",
    )
    assert result["errors"] == []
    order = result["order"]
    assert order["amount"] == "1999.90"
    assert order["currency"] == "CNY"
    assert order["paidAt"] == "2026-05-01T10:00:00Z"
    stored = await Order.get()
    assert stored.amount == Decimal("1999.90") and stored.status.value == "paid"


async def test_a_pending_order_carries_its_payment_due_date(gql):
    customer = await new_customer(gql)
    result = await record(
        gql, customer, amount="500", currency="CNY", placedAt="2026-05-01T10:00:00Z",
        paymentDueAt="2026-05-31T00:00:00Z",
    )
    assert result["order"]["status"] == "PENDING"
    assert result["order"]["paymentDueAt"] == "2026-05-31T00:00:00Z"
    assert result["order"]["paidAt"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": "0", "currency": "CNY"}, "amount"),
        ({"amount": "-5", "currency": "CNY"}, "amount"),
        ({"amount": "1.001", "currency": "CNY"}, "amount"),
        ({"amount": "1.5", "currency": "JPY"}, "amount"),
        ({"amount": "100000000000", "currency": "CNY"}, "amount"),
        ({"amount": "10", "currency": "XXX"}, "currency"),
        ({"amount": "10", "currency": "CNY", "placedAt": "2999-01-01T00:00:00Z"}, "placedAt"),
        (
            {"amount": "10", "currency": "CNY", "placedAt": "2026-05-01T00:00:00Z", "paymentDueAt": "2026-04-01T00:00:00Z"},
            "paymentDueAt",
        ),
        ({"amount": "10", "currency": "CNY", "status": "PENDING", "paidAt": "2026-05-01T00:00:00Z"}, "paidAt"),
    ],
)
async def test_invalid_orders_are_refused_and_nothing_is_stored(gql, fields, field):
    customer = await new_customer(gql)
    result = await record(gql, customer, **fields)
    assert result["order"] is None
    assert result["errors"][0]["field"] == field
    assert result["errors"][0]["code"] == "INVALID"
    assert await Order.all().count() == 0


async def test_a_float_amount_is_refused_before_anything_runs(gql):
    customer = await new_customer(gql)
    body = await gql(RECORD, {"input": {"customerId": customer, "amount": 12.5, "currency": "CNY"}})
    assert "data" not in body or body["data"] is None
    assert "never floats" in body["errors"][0]["message"]
    assert await Order.all().count() == 0


async def test_lifetime_value_counts_paid_orders_per_currency(gql):
    customer = await new_customer(gql)
    await record(gql, customer, amount="0.10", currency="CNY", status="PAID", placedAt="2026-01-01T00:00:00Z")
    await record(gql, customer, amount="0.20", currency="CNY", status="PAID", placedAt="2026-02-01T00:00:00Z")
    await record(gql, customer, amount="99.99", currency="USD", status="PAID", placedAt="2026-03-01T00:00:00Z")
    await record(gql, customer, amount="1000", currency="JPY", status="PAID", placedAt="2025-01-01T00:00:00Z")
    await record(gql, customer, amount="500", currency="CNY", status="REFUNDED", placedAt="2026-04-01T00:00:00Z")
    await record(gql, customer, amount="700", currency="CNY", status="PENDING", placedAt="2026-05-01T00:00:00Z")
    data = (await gql.data(SUMMARY, {"id": customer}))["customer"]
    assert data["orderCount"] == 4
    assert data["lastOrderAt"] == "2026-03-01T00:00:00Z"
    assert data["lifetimeValue"] == [
        {"amount": "1000", "currency": "JPY"},
        {"amount": "99.99", "currency": "USD"},
        {"amount": "0.30", "currency": "CNY"},
    ]
    assert data["orders"]["totalCount"] == 6
    assert [e["node"]["status"] for e in data["orders"]["edges"]][:2] == ["PENDING", "REFUNDED"]


async def test_a_customer_without_orders_has_zero_value(gql):
    customer = await new_customer(gql)
    data = (await gql.data(SUMMARY, {"id": customer}))["customer"]
    assert data == {
        "orderCount": 0,
        "lastOrderAt": None,
        "lifetimeValue": [],
        "orders": {"totalCount": 0, "edges": []},
    }


async def test_lifetime_value_of_many_large_orders_stays_exact(gql):
    customer = await new_customer(gql)
    pk = from_global_id(customer, "id")[1]
    await Order.bulk_create(
        [
            Order(customer_id=pk, amount=Decimal("99999999999.9999"), currency="CNY", status="paid", placed_at=datetime(2026, 1, 1, tzinfo=UTC))
            for _ in range(1000)
        ]
    )
    data = (await gql.data(SUMMARY, {"id": customer}))["customer"]
    assert data["lifetimeValue"] == [{"amount": "99999999999999.90", "currency": "CNY"}]
    assert data["orderCount"] == 1000
