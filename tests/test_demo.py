"""The demo loader: a seeded database holds the whole variety the demo promises, by the rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from models.customers import Customer, Source, create_customer
from models.db import connection
from models.demo import is_empty, plan_demo, seed_demo
from models.errors import DomainError, ErrorCode
from models.graph import CustomerLink, LinkKind, set_referrer
from models.interactions import Direction, Interaction, InteractionKind
from models.orders import Order, OrderStatus
from models.scope import Scope
from tests.conftest import empty_database

COUNT = 120

# Every customer reachable from a root (a customer nobody referred), with its depth below it.
WALK_FROM_ROOTS = """
WITH RECURSIVE walk(root, id, depth) AS (
    SELECT id, id, 0 FROM customer WHERE referrer_id IS NULL
    UNION ALL
    SELECT walk.root, c.id, walk.depth + 1 FROM customer c JOIN walk ON c.referrer_id = walk.id
)
"""


async def _rows(sql: str) -> list[dict[str, Any]]:
    return await connection().execute_query_dict(sql)


@pytest.fixture(scope="module")
async def seeded(database: str) -> dict[str, Any]:
    """The session's database of each kind, emptied, with ``seed_demo(count=120)`` in it.

    Seeded once per module and backend (seeding per test would cost seconds each). The emptying
    is ``clean_db``'s, which a module-scoped fixture cannot request.
    """
    await empty_database()
    empty_before = await is_empty()
    created = await seed_demo(count=COUNT)
    return {"empty_before": empty_before, "created": created, "empty_after": await is_empty()}


async def test_seeding_fills_an_empty_database_and_reports_what_it_made(seeded):
    created = seeded["created"]
    counts = (
        await _rows(
            "SELECT (SELECT COUNT(*) FROM customer) AS customers,"
        " (SELECT COUNT(*) FROM customer WHERE referrer_id IS NOT NULL) AS referrals,"
        " (SELECT COUNT(*) FROM customer_link) AS links,"
        " (SELECT COUNT(*) FROM interaction) AS interactions,"
        " (SELECT COUNT(*) FROM orders) AS orders,"
        " (SELECT COUNT(*) FROM customer_tag) AS tags"
        )
    )[0]

    assert seeded["empty_before"] is True
    assert seeded["empty_after"] is False
    assert created == {key: counts[key] for key in created}
    assert counts["customers"] == COUNT
    assert counts["referrals"] >= COUNT // 4
    assert counts["links"] >= COUNT // 4
    assert counts["interactions"] >= 2 * COUNT
    assert counts["orders"] >= COUNT
    assert counts["tags"] >= COUNT


async def test_a_referral_chain_runs_six_or_more_levels_deep_and_none_loops(seeded):
    deepest = (await _rows(WALK_FROM_ROOTS + "SELECT MAX(depth) AS depth, COUNT(*) AS reached FROM walk"))[0]

    assert deepest["depth"] >= 6
    # Every customer hangs below exactly one root: no referral chain closes on itself.
    assert deepest["reached"] == COUNT


async def test_two_referrers_each_have_fifteen_or_more_downstream(seeded):
    downstream = await _rows(
        "WITH RECURSIVE down(top, id) AS ("
        " SELECT referrer_id, id FROM customer WHERE referrer_id IS NOT NULL"
        " UNION ALL SELECT down.top, c.id FROM customer c JOIN down ON c.referrer_id = down.id)"
        " SELECT top, COUNT(*) AS n FROM down GROUP BY top ORDER BY n DESC LIMIT 3",
    )

    assert len([row for row in downstream if row["n"] >= 15]) >= 2


@pytest.mark.parametrize(
    ("table", "column", "values"),
    [
        ("customer", "source", {s.value for s in Source}),
        ("customer_link", "kind", {k.value for k in LinkKind}),
        ("interaction", "kind", {k.value for k in InteractionKind}),
        ("interaction", "direction", {d.value for d in Direction}),
        ("orders", "status", {s.value for s in OrderStatus}),
        ("orders", "currency", {"CNY", "USD", "EUR"}),
    ],
)
async def test_every_kind_appears(seeded, table, column, values):
    present = {row["v"] for row in await _rows(f"SELECT DISTINCT {column} AS v FROM {table}")}

    assert present == values


async def test_phones_and_emails_are_unique_and_some_are_missing_or_foreign(seeded):
    customers = await Customer.all().values("phone", "email", "name")
    phones = [c["phone"] for c in customers if c["phone"] is not None]
    emails = [c["email"] for c in customers if c["email"] is not None]

    assert len(phones) == len(set(phones))
    assert len(emails) == len(set(emails))
    assert COUNT * 0.8 <= len(phones) < COUNT
    assert COUNT * 0.6 <= len(emails) < COUNT
    chinese_mobiles = [p for p in phones if p.startswith("+86")]
    assert len(chinese_mobiles) >= len(phones) * 0.6
    assert len(phones) - len(chinese_mobiles) >= 3
    assert all(email.endswith(".example") for email in emails)
    # Both Chinese and Latin names.
    assert any("\u4e00" <= c["name"][0] <= "\u9fff" for c in customers)
    assert any(c["name"][0].isascii() for c in customers)


async def test_birthdays_are_never_in_the_future_and_some_are_missing(seeded):
    rows = await Customer.all().values("birthday", "gender", "company")
    birthdays = [r["birthday"] for r in rows if r["birthday"] is not None]

    assert 0 < len(birthdays) < COUNT
    assert max(birthdays) <= date.today()
    assert any(r["gender"] is None for r in rows)
    assert any(r["company"] is not None for r in rows)
    assert any(r["company"] is None for r in rows)


async def test_orders_have_two_decimal_places_and_pending_ones_fall_due(seeded):
    now = datetime.now(UTC)
    all_orders = await Order.all()

    for order in all_orders:
        assert order.amount > 0
        assert order.amount == order.amount.quantize(Decimal("0.01"))
        assert order.placed_at <= now
        if order.status is OrderStatus.PENDING:
            assert order.payment_due_at is not None
        if order.payment_due_at is not None:
            assert order.payment_due_at >= order.placed_at
        if order.status in (OrderStatus.PAID, OrderStatus.REFUNDED):
            assert order.placed_at <= order.paid_at <= now
        else:
            assert order.paid_at is None
    assert sum(o.currency == "CNY" for o in all_orders) > len(all_orders) * 0.7


async def test_interactions_spread_over_the_past_two_years(seeded):
    now = datetime.now(UTC)
    times = await Interaction.all().values_list("occurred_at", flat=True)
    per_customer: dict[int, int] = {}
    for customer_id in await Interaction.all().values_list("customer_id", flat=True):
        per_customer[customer_id] = per_customer.get(customer_id, 0) + 1

    assert min(times) >= now - timedelta(days=731)
    assert max(times) <= now
    assert max(times) - min(times) > timedelta(days=600)
    assert max(per_customer.values()) >= 15


async def test_the_seeded_graph_still_refuses_a_loop(seeded):
    chain = (await _rows(WALK_FROM_ROOTS + "SELECT root, id FROM walk ORDER BY depth DESC LIMIT 1"))[0]

    with pytest.raises(DomainError) as refused:
        await set_referrer(Scope.of_system(), chain["root"], chain["id"])
    assert refused.value.errors[0].code is ErrorCode.CYCLE


def test_the_same_seed_plans_the_same_demo():
    now = datetime(2025, 6, 1, tzinfo=UTC)

    assert plan_demo(60, seed=3, now=now) == plan_demo(60, seed=3, now=now)
    assert plan_demo(60, seed=3, now=now) != plan_demo(60, seed=4, now=now)


async def test_demo_staff_share_the_customers_by_team(seeded):
    from models.access import User
    from models.demo import seed_demo_staff

    admin = await seed_demo_staff()
    assert admin.token.startswith("kehu_") and len(admin.password) >= 15
    assert await User.filter(is_superuser=True).count() == 1
    owned = await Customer.exclude(owner_id=None).count()
    assert owned == COUNT
    teams = await Customer.all().distinct().values_list("team_id", flat=True)
    assert len(set(teams)) == 3


async def test_a_failed_seeding_leaves_nothing_behind(clean_db):
    # A customer already holds the phone of the last demo customer who has one.
    taken = [c["phone"] for c in plan_demo(30).customers if c.get("phone")][-1]
    await create_customer(Scope.of_system(), {"name": "已有客户", "phone": taken})

    with pytest.raises(DomainError) as refused:
        await seed_demo(count=30)

    assert refused.value.errors[0].code is ErrorCode.DUPLICATE
    assert (await Customer.all().count(), await CustomerLink.all().count(), await Order.all().count()) == (1, 0, 0)

