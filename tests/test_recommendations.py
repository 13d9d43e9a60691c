"""Order lines and recommendations: lines that add up to the amount, and products bought by
customers who bought what this customer bought, ranked and explained, over the visible base;
best sellers of the tier for a customer with nothing bought yet."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from models.customers import Customer, create_customer
from models.orders import Order, OrderLine, record_order
from models.scope import Scope
from models.segments import CustomerSegment
from models.staff import create_team
from schema.ids import to_global_id
from tests.conftest import ask, bearer_for_user, staff_member

SYSTEM = Scope.of_system()
NAMES = {"A": "龙井", "B": "茶饼", "C": "茶杯", "D": "茶盘", "E": "香炉", "F": "茶刀"}
RECOMMEND = """
query($id: ID!, $first: Int!) { customer(id: $id) { recommendations(first: $first) { sku name score becauseOfSku reasonCode reason } } }
"""
RECORD = """
mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) { order { amount lines { sku name quantity unitPrice } } errors { field code message } }
}
"""


async def _customer(name: str, team: int, skus: str = "", tier: str | None = None) -> int:
    made = await create_customer(SYSTEM, {"name": name})
    await Customer.filter(id=made["id"]).update(team_id=team)
    if skus:
        lines = [{"sku": sku, "name": NAMES[sku], "quantity": 1, "unit_price": Decimal("10")} for sku in skus]
        await record_order(SYSTEM, made["id"], {"amount": Decimal(10 * len(skus)), "currency": "CNY", "status": "paid",
                                                 "lines": lines})
    if tier is not None:
        await CustomerSegment.create(customer_id=made["id"], frequency=1, monetary=Decimal(10), paid_orders=1, touches=0,
                                     tier=tier, stage="active", computed_at=datetime.now(UTC))
    return made["id"]


async def _baskets():
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    me = await _customer("我", east, "AB")
    await _customer("p1", east, "ACD", tier="vip")
    await _customer("p2", east, "AC", tier="vip")
    await _customer("p3", east, "BD")
    await _customer("p4", east, "E")
    await _customer("west", west, "AF")
    await record_order(SYSTEM, me, {"amount": Decimal("10"), "currency": "CNY", "status": "refunded",
                                    "lines": [{"sku": "F", "name": "茶刀", "quantity": 1, "unit_price": Decimal("10")}]})
    # West's latest line for C names it otherwise, on an order never paid: no one is told that name.
    west_customer = (await create_customer(SYSTEM, {"name": "西二"}))["id"]
    await Customer.filter(id=west_customer).update(team_id=west)
    await record_order(SYSTEM, west_customer, {"amount": Decimal("10"), "currency": "CNY",
                                               "lines": [{"sku": "C", "name": "王五 13800000000", "quantity": 1, "unit_price": Decimal("10")}]})
    newbie = await _customer("新客", east, tier="vip")
    return east, me, newbie


async def test_products_bought_together_are_ranked_and_explained_within_scope(clean_db, as_user):
    east, me, newbie = await _baskets()
    everyone = as_user(await bearer_for_user((await staff_member("all@example.com", ["customer.read"]))["id"]))
    team = as_user(await bearer_for_user((await staff_member("east@example.com", ["customer.read"], "TEAM", east))["id"]))
    gid = to_global_id("Customer", me)
    seen_by_all = (await ask(everyone, RECOMMEND, {"id": gid, "first": 5}))["data"]["customer"]["recommendations"]
    assert [(r["sku"], r["score"], r["becauseOfSku"], r["reasonCode"]) for r in seen_by_all] == [
        ("C", 2, "A", "BOUGHT_TOGETHER"), ("D", 2, "A", "BOUGHT_TOGETHER"), ("F", 1, "A", "BOUGHT_TOGETHER"),
        ("E", 1, None, "BEST_SELLER"),
    ]
    assert seen_by_all[0]["reason"] == "购买过「龙井」的客户中有 2 位也买了它" and seen_by_all[0]["name"] == "茶杯"
    english = await everyone.post("/graphql", json={"query": RECOMMEND, "variables": {"id": gid, "first": 1}},
                                  headers={"accept-language": "en"})
    assert english.json()["data"]["customer"]["recommendations"][0]["reason"] == "bought by 2 customers who also bought 龙井"
    # East does not see West's customer: its basket (A with F) counts for nothing.
    seen_by_east = (await ask(team, RECOMMEND, {"id": gid, "first": 5}))["data"]["customer"]["recommendations"]
    assert [(r["sku"], r["name"]) for r in seen_by_east] == [("C", "茶杯"), ("D", "茶盘"), ("E", "香炉")]
    # A customer with nothing bought: the best sellers among the VIP customers East sees.
    fresh = (await ask(team, RECOMMEND, {"id": to_global_id("Customer", newbie), "first": 5}))["data"]["customer"]
    assert [(r["sku"], r["score"], r["reasonCode"]) for r in fresh["recommendations"]] == [
        ("A", 2, "TIER_BEST_SELLER"), ("C", 2, "TIER_BEST_SELLER"), ("D", 1, "TIER_BEST_SELLER"),
    ]
    assert fresh["recommendations"][0]["reason"] == "VIP客户中的畅销品：2 位购买过"
    refused = await ask(team, RECOMMEND, {"id": gid, "first": 0})
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_recommendations_for_a_page_of_customers_are_one_batch(clean_db, as_user, count_statements):
    await _baskets()
    everyone = as_user(await bearer_for_user((await staff_member("all@example.com", ["customer.read"]))["id"]))
    count_statements.statements.clear()
    page = await ask(everyone, "{ customers(first: 10) { edges { node { name recommendations { sku } } } } }")
    assert len(page["data"]["customers"]["edges"]) == 8
    together = [s for s in count_statements.statements if "WITH mine" in s]
    assert len(together) == 1


async def test_an_order_with_lines_that_add_up_is_recorded_and_others_change_nothing(clean_db, as_user):
    seller = as_user(await bearer_for_user((await staff_member("s@example.com", ["customer.read", "order.create"]))["id"]))
    customer = to_global_id("Customer", (await create_customer(SYSTEM, {"name": "买家"}))["id"])
    line = {"sku": "TEA-1", "name": "龙井 250g", "quantity": 2, "unitPrice": "99.50"}
    made = await ask(seller, RECORD, {"input": {"customerId": customer, "amount": "219.00", "currency": "CNY",
                                                "lines": [line, {"sku": "CUP", "name": "杯", "quantity": 1, "unitPrice": "20"}]}})
    assert made["data"]["recordOrder"] == {"order": {"amount": "219.00", "lines": [
        {"sku": "TEA-1", "name": "龙井 250g", "quantity": 2, "unitPrice": "99.50"},
        {"sku": "CUP", "name": "杯", "quantity": 1, "unitPrice": "20.00"},
    ]}, "errors": []}
    cases = [
        ({"amount": "200.00", "lines": [line]}, "lines", "INVALID"),
        ({"amount": "0.01", "lines": [{**line, "quantity": 0, "unitPrice": "0.01"}]}, "lines[0].quantity", "INVALID"),
        ({"amount": "199.00", "lines": [{**line, "sku": "  "}]}, "lines[0].sku", "REQUIRED"),
        ({"amount": "199.00", "lines": [{**line, "unitPrice": "-99.50", "quantity": 2}]}, "lines[0].unitPrice", "INVALID"),
        ({"amount": "0.01", "lines": [{**line, "quantity": 1, "unitPrice": "0.01"}] * 101}, "lines", "INVALID"),
    ]
    for given, field, code in cases:
        answer = (await ask(seller, RECORD, {"input": {"customerId": customer, "currency": "CNY", **given}}))["data"]["recordOrder"]
        assert answer["order"] is None and (answer["errors"][0]["field"], answer["errors"][0]["code"]) == (field, code), given
    assert await Order.all().count() == 1 and await OrderLine.all().count() == 2
