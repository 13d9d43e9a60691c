"""Segments: RFM quintiles, tiers and stages on hand-built data, the same on both databases; reasons; history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from models import segments
from models.customers import create_customer
from models.interactions import Interaction
from models.orders import Order
from models.scope import Scope
from models.segments import CustomerSegment, ExchangeRate, SegmentChange

SYSTEM = Scope.of_system()
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def _buyer(name: str, orders: list[tuple[int, str, str]], status: str = "paid") -> int:
    """A customer with paid orders ``(days before AT, amount, currency)``."""
    customer = (await create_customer(SYSTEM, {"name": name}))["id"]
    for days, amount, currency in orders:
        await Order.create(customer_id=customer, amount=Decimal(amount), currency=currency, status=status,
                           placed_at=AT - timedelta(days=days))
    return customer


async def _segment(customer: int) -> CustomerSegment:
    return await CustomerSegment.get(customer_id=customer)


async def test_quintiles_tiers_and_stages_on_hand_built_data(clean_db):
    await ExchangeRate.create(currency="USD", rate=Decimal("7.1"))
    # Ten buyers: the i-th bought i orders of 100*i each, the last one 10*i days ago.
    people = {f"B{i}": await _buyer(f"B{i}", [(10 * i + k, str(100 * i), "CNY") for k in range(i)]) for i in range(1, 11)}
    people["P"] = (await create_customer(SYSTEM, {"name": "P"}))["id"]  # never paid, never touched
    people["C"] = (await create_customer(SYSTEM, {"name": "C"}))["id"]  # never paid, three calls this month
    for days in (1, 2, 3):
        await Interaction.create(customer_id=people["C"], kind="call", direction="outbound", summary="hi",
                                 occurred_at=AT - timedelta(days=days))
    people["D"] = await _buyer("D", [(200, "5000", "CNY")])
    people["F"] = await _buyer("F", [(5, "10", "USD"), (6, "10", "EUR")])  # EUR has no rate: left out
    people["V"] = await _buyer("V", [(1, "20000", "CNY")])
    assert await segments.recompute(AT) == 15

    got = {name: await _segment(pk) for name, pk in people.items()}
    # 13 buyers in quintiles of 3, 3, 3, 2, 2; ties (one order each) by id.
    expected = {
        # name: (recency days, r, f, m, tier, stage)
        "D": (200, 1, 1, 3, "dormant", "at_risk"),
        "B10": (100, 1, 5, 5, "potential", "loyal"),
        "B9": (90, 1, 5, 4, "active", "loyal"),
        "B8": (80, 2, 4, 4, "active", "new"),
        "B7": (70, 2, 4, 3, "active", "new"),
        "B6": (60, 2, 3, 3, "active", "new"),
        "B5": (50, 3, 3, 2, "active", "new"),
        "B4": (40, 3, 3, 2, "active", "new"),
        "B3": (30, 3, 2, 2, "active", "new"),
        "B2": (20, 4, 2, 1, "active", "new"),
        "B1": (10, 4, 1, 1, "active", "new"),
        "F": (5, 5, 1, 1, "active", "new"),
        "V": (1, 5, 2, 5, "vip", "new"),
        "P": (None, None, None, None, "potential", "prospect"),
        "C": (None, None, None, None, "active", "prospect"),
    }
    assert {name: (s.recency_days, s.r, s.f, s.m, s.tier, s.stage) for name, s in got.items()} == expected
    assert got["B10"].monetary == Decimal("10000.00") and got["B10"].frequency == 10
    assert got["F"].monetary == Decimal("71.00") and got["F"].paid_orders == 1
    assert got["C"].touches == 3


async def test_reasons_in_both_languages_and_changes_recorded(clean_db):
    customer = await _buyer("沉睡", [(140, "300", "CNY")])
    await segments.recompute(AT)
    row = (await segments.segments_by_customer(SYSTEM, [customer]))[customer]
    chinese = segments.reasons(row, "zh_CN")
    assert chinese[0].code == "DORMANT_RECENCY" and chinese[0].values == {"days": 140, "threshold": 120}
    assert chinese[0].text == "最近一次付款订单在 140 天前（超过 120 天视为沉睡）"
    assert segments.reasons(row, "en")[0].text == "last paid order 140 days ago (dormant after 120)"
    await Order.create(customer_id=customer, amount=Decimal("80"), currency="CNY", status="paid", placed_at=AT - timedelta(days=2))
    await segments.recompute(AT)
    changes = await SegmentChange.filter(customer_id=customer).order_by("id").values("from_tier", "to_tier", "from_stage", "to_stage")
    assert changes == [
        {"from_tier": None, "to_tier": "dormant", "from_stage": None, "to_stage": "at_risk"},
        {"from_tier": "dormant", "to_tier": "active", "from_stage": "at_risk", "to_stage": "active"},
    ]
    await segments.recompute(AT)
    assert await SegmentChange.filter(customer_id=customer).count() == 2  # no change, no record


async def test_the_segment_through_the_api_speaks_the_callers_language(gql):
    made = await gql.data('mutation { createCustomer(input: {name: "王芳"}) { customer { id } } }')
    customer = made["createCustomer"]["customer"]["id"]
    await segments.recompute()
    query = "query($id: ID!) { customer(id: $id) { segment { tier lifecycleStage rfm { score daysSinceLastPaid } reasons { code text } } } }"
    chinese = (await gql.data(query, {"id": customer}))["customer"]["segment"]
    assert chinese["lifecycleStage"] == "PROSPECT" and chinese["rfm"] == {"score": None, "daysSinceLastPaid": None}
    assert chinese["reasons"][1] == {"code": "STAGE_PROSPECT", "text": "还没有付款订单"}
    english = await gql.http.post("/graphql", json={"query": query, "variables": {"id": customer}}, headers={"accept-language": "en"})
    assert english.json()["data"]["customer"]["segment"]["reasons"][1]["text"] == "no paid order yet"


async def test_two_recomputes_at_once_record_each_change_once(clean_db):
    import asyncio

    customers = [await _buyer(f"同时{i}", [(i, "100", "CNY")]) for i in range(1, 6)]
    await asyncio.gather(segments.recompute(AT), segments.recompute(AT))
    assert await SegmentChange.filter(customer_id__in=customers).count() == 5
    assert await CustomerSegment.all().count() == 5
