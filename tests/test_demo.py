"""The demo loader: a seeded database holds the whole variety the demo promises, by the rules."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from tortoise.migrations.api import migrate

from models.customers import Customer, Source, create_customer
from models.db import close, connection, init, tortoise_config
from models.demo import is_empty, plan_demo, seed_demo
from models.errors import DomainError, ErrorCode
from models.graph import CustomerLink, LinkKind, set_referrer
from models.interactions import Direction, Interaction, InteractionKind
from models.orders import Order, OrderStatus
from models.scope import Scope

COUNT = 120
T = TypeVar("T")

# Every customer reachable from a root (a customer nobody referred), with its depth below it.
WALK_FROM_ROOTS = """
WITH RECURSIVE walk(root, id, depth) AS (
    SELECT id, id, 0 FROM customer WHERE referrer_id IS NULL
    UNION ALL
    SELECT walk.root, c.id, walk.depth + 1 FROM customer c JOIN walk ON c.referrer_id = walk.id
)
"""


def _in_database(url: str, work: Callable[[], Awaitable[T]], *, migrated: bool = True) -> T:
    """Run ``work`` against the database at ``url`` in a fresh event loop."""

    async def main() -> T:
        if not migrated:
            # migrate() initialises Tortoise itself (without connecting); init() then starts over.
            await migrate(config=tortoise_config(url), app_labels=None)
        await init(url)
        try:
            return await work()
        finally:
            await close()

    return asyncio.run(main())


def _rows(url: str, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    async def query() -> list[dict[str, Any]]:
        return await connection().execute_query_dict(sql, params or [])

    return _in_database(url, query)


def _fresh_url(tmp_path_factory: pytest.TempPathFactory, name: str) -> str:
    return f"sqlite://{tmp_path_factory.mktemp(name) / 'kehu.sqlite3'}"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A fresh migrated database with ``seed_demo(count=120)`` in it."""
    url = _fresh_url(tmp_path_factory, "demo")

    async def seed() -> dict[str, Any]:
        empty_before = await is_empty()
        created = await seed_demo(count=COUNT)
        return {"url": url, "empty_before": empty_before, "created": created, "empty_after": await is_empty()}

    return _in_database(url, seed, migrated=False)


def test_seeding_fills_an_empty_database_and_reports_what_it_made(seeded):
    url, created = seeded["url"], seeded["created"]
    counts = _rows(
        url,
        "SELECT (SELECT COUNT(*) FROM customer) AS customers,"
        " (SELECT COUNT(*) FROM customer WHERE referrer_id IS NOT NULL) AS referrals,"
        " (SELECT COUNT(*) FROM customer_link) AS links,"
        " (SELECT COUNT(*) FROM interaction) AS interactions,"
        " (SELECT COUNT(*) FROM orders) AS orders,"
        " (SELECT COUNT(*) FROM customer_tag) AS tags",
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


def test_a_referral_chain_runs_six_or_more_levels_deep_and_none_loops(seeded):
    url = seeded["url"]

    deepest = _rows(url, WALK_FROM_ROOTS + "SELECT MAX(depth) AS depth, COUNT(*) AS reached FROM walk")[0]

    assert deepest["depth"] >= 6
    # Every customer hangs below exactly one root: no referral chain closes on itself.
    assert deepest["reached"] == COUNT


def test_two_referrers_each_have_fifteen_or_more_downstream(seeded):
    url = seeded["url"]
    downstream = _rows(
        url,
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
def test_every_kind_appears(seeded, table, column, values):
    present = {row["v"] for row in _rows(seeded["url"], f"SELECT DISTINCT {column} AS v FROM {table}")}

    assert present == values


def test_phones_and_emails_are_unique_and_some_are_missing_or_foreign(seeded):
    url = seeded["url"]
    customers = _rows(url, "SELECT phone, email, name FROM customer")
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


def test_birthdays_are_never_in_the_future_and_some_are_missing(seeded):
    rows = _rows(seeded["url"], "SELECT birthday, gender, company FROM customer")
    birthdays = [date.fromisoformat(r["birthday"]) for r in rows if r["birthday"] is not None]

    assert 0 < len(birthdays) < COUNT
    assert max(birthdays) <= date.today()
    assert any(r["gender"] is None for r in rows)
    assert any(r["company"] is not None for r in rows)
    assert any(r["company"] is None for r in rows)


def test_orders_have_two_decimal_places_and_pending_ones_fall_due(seeded):
    async def orders() -> list[Order]:
        return await Order.all()

    now = datetime.now(UTC)
    all_orders = _in_database(seeded["url"], orders)

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


def test_interactions_spread_over_the_past_two_years(seeded):
    async def history() -> tuple[list[datetime], dict[int, int]]:
        times = await Interaction.all().values_list("occurred_at", flat=True)
        per_customer: dict[int, int] = {}
        for customer_id in await Interaction.all().values_list("customer_id", flat=True):
            per_customer[customer_id] = per_customer.get(customer_id, 0) + 1
        return times, per_customer

    now = datetime.now(UTC)
    times, per_customer = _in_database(seeded["url"], history)

    assert min(times) >= now - timedelta(days=731)
    assert max(times) <= now
    assert max(times) - min(times) > timedelta(days=600)
    assert max(per_customer.values()) >= 15


def test_the_seeded_graph_still_refuses_a_loop(seeded):
    url = seeded["url"]
    chain = _rows(url, WALK_FROM_ROOTS + "SELECT root, id FROM walk ORDER BY depth DESC LIMIT 1")[0]

    async def close_the_loop() -> None:
        await set_referrer(Scope(), chain["root"], chain["id"])

    with pytest.raises(DomainError) as refused:
        _in_database(url, close_the_loop)
    assert refused.value.errors[0].code is ErrorCode.CYCLE


def test_the_same_seed_plans_the_same_demo():
    now = datetime(2025, 6, 1, tzinfo=UTC)

    assert plan_demo(60, seed=3, now=now) == plan_demo(60, seed=3, now=now)
    assert plan_demo(60, seed=3, now=now) != plan_demo(60, seed=4, now=now)


def test_a_failed_seeding_leaves_nothing_behind(tmp_path_factory):
    url = _fresh_url(tmp_path_factory, "demo-conflict")
    # A customer already holds the phone of the last demo customer who has one.
    taken = [c["phone"] for c in plan_demo(30).customers if c.get("phone")][-1]

    async def seed_over_it() -> tuple[ErrorCode, int, int, int]:
        await create_customer(Scope(), {"name": "已有客户", "phone": taken})
        with pytest.raises(DomainError) as refused:
            await seed_demo(count=30)
        return (
            refused.value.errors[0].code,
            await Customer.all().count(),
            await CustomerLink.all().count(),
            await Order.all().count(),
        )

    code, customers, links, orders = _in_database(url, seed_over_it, migrated=False)

    assert code is ErrorCode.DUPLICATE
    assert (customers, links, orders) == (1, 0, 0)
