"""The read path: a page of customers with their graph costs the same SQL at any page size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from models.customers import create_customer
from models.graph import LinkKind, link_customers, set_referrer
from models.interactions import log_interaction
from models.orders import record_order
from models.scope import Scope

PAGE = """
query($first: Int!) {
  customers(first: $first) {
    totalCount
    edges {
      node {
        id name tags
        referrer { id name }
        referrals(first: 10) { totalCount edges { node { id name } } }
        links { edges { node { kind customer { id name } } } }
        interactions(first: 5) { edges { node { kind summary } } }
        orders(first: 5) { edges { node { amount status } } }
        referralStats { directCount downstreamCount }
        orderCount
        lifetimeValue { amount currency }
      }
    }
  }
}
"""


async def build_graph(count: int) -> None:
    scope = Scope.of_system()
    ids = [(await create_customer(scope, {"name": f"C{i}", "tags": ["t"]}))["id"] for i in range(count)]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for i, customer_id in enumerate(ids):
        if i:
            await set_referrer(scope, customer_id, ids[(i - 1) // 3])
        if i + 1 < count:
            await link_customers(scope, customer_id, ids[i + 1], LinkKind.FRIEND, None)
        for n in range(7):
            await log_interaction(
                scope, customer_id, {"kind": "call", "direction": "outbound", "summary": f"call {n}", "occurred_at": at + timedelta(days=n)}
            )
        for _ in range(2):
            await record_order(scope, customer_id, {"amount": Decimal("10.00"), "currency": "CNY", "status": "paid"})


async def statements_for(gql, count_statements, first: int) -> int:
    count_statements.statements.clear()
    data = await gql.data(PAGE, {"first": first})
    edges = data["customers"]["edges"]
    assert len(edges) == first
    assert all(len(e["node"]["interactions"]["edges"]) == 5 for e in edges)
    return len(count_statements.statements)


async def test_statement_count_does_not_grow_with_the_page(gql, count_statements):
    await build_graph(55)
    await statements_for(gql, count_statements, 1)  # the token's first use records its last-used time
    small = await statements_for(gql, count_statements, 5)
    large = await statements_for(gql, count_statements, 50)
    assert small == large
    # one statement per relation, not per customer, and two for the bearer token and its roles
    assert large <= 15, count_statements.statements


async def test_nested_pages_keep_only_their_rows(gql):
    await build_graph(4)
    data = await gql.data(PAGE, {"first": 4})
    by_name = {e["node"]["name"]: e["node"] for e in data["customers"]["edges"]}
    root = by_name["C0"]
    assert root["referrer"] is None
    assert sorted(e["node"]["name"] for e in root["referrals"]["edges"]) == ["C1", "C2", "C3"]
    assert root["referralStats"] == {"directCount": 3, "downstreamCount": 3}
    assert [e["node"]["summary"] for e in root["interactions"]["edges"]] == [f"call {n}" for n in (6, 5, 4, 3, 2)]
    assert root["orderCount"] == 2
    assert root["lifetimeValue"] == [{"amount": "20.00", "currency": "CNY"}]
    assert by_name["C2"]["referrer"]["name"] == "C0"
    assert {e["node"]["customer"]["name"] for e in by_name["C2"]["links"]["edges"]} == {"C1", "C3"}
