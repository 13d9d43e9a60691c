"""A request holds one pool connection, whatever it reads, and gives it back without asyncpg's reset round trips."""

from __future__ import annotations

import pytest

from models import db

PAGE = """{ customers(first: 5) { totalCount edges { node { name referrer { name } referrals { totalCount }
  interactions(first: 2) { edges { node { summary } } } orders { totalCount } segment { tier } } } } }"""


@pytest.fixture
def pool_use(monkeypatch):
    """The real pool's acquires and the statements run, counted."""
    if db.dialect() != "postgres":
        pytest.skip("SQLite has one connection and no pool")
    timed = db.connection()._pool
    counts = {"acquire": 0}

    class Counting:
        def __init__(self, pool) -> None:
            self.pool = pool

        def acquire(self, *args, **kwargs):
            counts["acquire"] += 1
            return self.pool.acquire(*args, **kwargs)

        def __getattr__(self, name: str):
            return getattr(self.pool, name)

    monkeypatch.setattr(timed, "_pool", Counting(timed._pool))
    return counts


async def test_a_page_of_many_statements_takes_one_connection(gql, pool_use, count_statements):
    for name in ("甲", "乙", "丙"):
        await gql.data('mutation($n: String!) { createCustomer(input: {name: $n}) { customer { id } } }', {"n": name})
    pool_use["acquire"] = 0
    count_statements.statements.clear()
    data = await gql.data(PAGE)
    assert data["customers"]["totalCount"] == 3
    assert len(count_statements.statements) >= 5  # the page, the count and a loader a relation
    assert pool_use["acquire"] == 1


async def test_a_write_and_its_reads_share_the_connection_and_leave_no_transaction(gql, pool_use):
    made = await gql.data('mutation { createCustomer(input: {name: "丁"}) { customer { id name tags } } }')
    assert made["createCustomer"]["customer"]["name"] == "丁"
    assert pool_use["acquire"] == 1
    timed = db.connection()._pool
    # Every connection back in the pool is idle, outside any transaction.
    async with timed._pool.pool.acquire() as connection:
        assert not connection.is_in_transaction()
        assert await connection.fetchval("SELECT current_setting('application_name')") == "kehu"


async def test_the_reset_rolls_back_what_is_left_open():
    if db.dialect() != "postgres":
        pytest.skip("PostgreSQL's pool")
    timed = db.connection()._pool
    connection = await timed._pool.acquire()
    raw = connection._con  # the connection behind the pool's proxy, still readable once given back
    transaction = connection.transaction()
    await transaction.start()
    await timed._pool.release(connection)
    assert not raw.is_closed() and not raw.is_in_transaction()


async def _plan_mode() -> str:
    return (await db.connection().execute_query_dict("SHOW plan_cache_mode"))[0]["plan_cache_mode"]


async def test_generic_plans_are_for_the_statements_that_ask_and_the_connection_switches_back(gql, monkeypatch):
    if db.dialect() != "postgres":
        pytest.skip("PostgreSQL's plan cache")
    async with db.one_connection():
        assert await _plan_mode() == "force_custom_plan"
        async with db.generic_plans():
            assert await _plan_mode() == "auto"
            assert await _plan_mode() == "auto"
        assert await _plan_mode() == "force_custom_plan"  # a search after a compiled read plans for its values
    # A compiled read without a filter asks for them; with a filter (a search, a segment) it does not.
    seen = []
    real = db._plan_mode

    async def watched(connection):
        seen.append(db._GENERIC_PLANS.wanted.get())
        await real(connection)

    monkeypatch.setattr(db, "_plan_mode", watched)
    await gql.data("{ customers(first: 2) { edges { node { name } } } }")
    assert seen[-1] is True
    await gql.data('{ customers(first: 2, filter: {search: "甲"}) { edges { node { name } } } }')
    assert seen[-1] is False


async def _show(name: str) -> str:
    return (await db.connection().execute_query_dict(f"SHOW {name}"))[0][name]


async def test_the_dashboards_figures_may_take_parallel_workers_and_nothing_else_does(gql, monkeypatch):
    if db.dialect() != "postgres":
        pytest.skip("PostgreSQL's planner costs")
    async with db.one_connection():
        default = await _show("parallel_setup_cost")
        async with db.parallel_reads():
            assert (await _show("parallel_setup_cost"), await _show("parallel_tuple_cost")) == ("100", "0.01")
            async with db.generic_plans():  # the two settings switch apart
                assert (await _show("parallel_setup_cost"), await _show("plan_cache_mode")) == ("100", "auto")
        assert (await _show("parallel_setup_cost"), await _show("plan_cache_mode")) == (default, "force_custom_plan")
    seen = []
    real = db._plan_mode

    async def watched(connection):
        seen.append(db._PARALLEL_READS.wanted.get())
        await real(connection)

    monkeypatch.setattr(db, "_plan_mode", watched)
    await gql.data('{ analytics(from: "2026-01-01", to: "2026-03-31") { newCustomers { count } retentionRate } }')
    assert seen[-2:] == [True, True] and not any(seen[:-2])  # the two figures; the token, the viewer, the window before
    seen.clear()
    await gql.data("{ customers(first: 2) { edges { node { name } } } }")
    assert seen and not any(seen)
