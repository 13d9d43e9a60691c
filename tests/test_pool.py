"""The public pool (公海): release by the sweep per tier, claims within the day's limit, a race of two claims, scope."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from models import pool, rules, segments
from models.access import User
from models.audit import AuditEvent
from models.customers import Customer, create_customer
from models.errors import DomainError, ErrorCode
from models.interactions import Interaction
from models.pagination import PageArgs
from models.pool import PoolClaim
from models.scope import Scope
from models.staff import create_team
from models.viewer import Viewer
from tests.conftest import ask, bearer_for_user, staff_member

SYSTEM = Scope.of_system()
NOW = datetime.now(UTC)


async def _scope_of(user_id: int) -> Scope:
    from models.access import viewer_of

    viewer: Viewer = await viewer_of(await User.get(id=user_id))
    return await Scope.for_viewer(viewer)


async def _customer(name: str, team: int, owner: int | None, age_days: int = 200) -> int:
    made = (await create_customer(SYSTEM, {"name": name}))["id"]
    await Customer.filter(id=made).update(team_id=team, owner_id=owner, created_at=NOW - timedelta(days=age_days))
    return made


@pytest.fixture
async def teams(clean_db):
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    seller = await staff_member("seller@example.com", ["customer.read", "customer.update", "interaction.create"], "OWN", east)
    claimer = await staff_member("claimer@example.com", ["customer.read", "customer.claim"], "OWN", east)
    other = await staff_member("other@example.com", ["customer.read", "customer.claim"], "OWN", east)
    westerner = await staff_member("west@example.com", ["customer.read", "customer.claim"], "OWN", west)
    return {"east": east, "west": west, "seller": seller["id"], "claimer": claimer["id"], "other": other["id"],
            "westerner": westerner["id"]}


async def test_the_sweep_releases_by_tier_and_the_owners_own_touches(teams):
    seller = teams["seller"]
    idle = await _customer("idle", teams["east"], seller)  # no touch for 200 days: POTENTIAL
    touched = await _customer("touched", teams["east"], seller)
    await Interaction.create(customer_id=touched, kind="call", direction="outbound", summary="hi",
                             occurred_at=NOW - timedelta(days=5), logged_by_id=seller)
    by_someone_else = await _customer("by someone else", teams["east"], seller)
    await Interaction.create(customer_id=by_someone_else, kind="call", direction="outbound", summary="hi",
                             occurred_at=NOW - timedelta(days=5), logged_by_id=teams["claimer"])
    teamless = (await create_customer(SYSTEM, {"name": "no team"}))["id"]
    await Customer.filter(id=teamless).update(owner_id=seller, created_at=NOW - timedelta(days=200))
    await segments.recompute()

    assert await pool.sweep() == 0  # off by default
    await rules.update_rules(SYSTEM, {"pool": {"potential_days": 30}})
    soon = await pool.about_to_release(await _scope_of(seller), within_days=7)
    assert {row["id"] for row in soon} == {idle, by_someone_else}  # the touched one has 25 days left
    assert all(row["release_at"] <= NOW + timedelta(days=1) and row["tier"] == "potential" for row in soon)
    assert {row["id"] for row in await pool.about_to_release(await _scope_of(seller), within_days=30)} == {
        idle, by_someone_else, touched}
    assert await pool.sweep() == 2  # idle, and the one only someone else touched
    rows = {row["id"]: row for row in await Customer.filter(id__in=[idle, touched, by_someone_else, teamless]).values()}
    assert rows[idle]["owner_id"] is None and rows[idle]["released_at"] is not None
    assert rows[by_someone_else]["owner_id"] is None
    assert rows[touched]["owner_id"] == seller and rows[teamless]["owner_id"] == seller
    events = await AuditEvent.filter(action="customer.release").order_by("entity_id").values("customer_id", "changes")
    assert events == [
        {"customer_id": idle, "changes": {"owner_id": {"from": seller, "to": None}}},
        {"customer_id": by_someone_else, "changes": {"owner_id": {"from": seller, "to": None}}},
    ]
    assert await pool.sweep() == 0  # released once


async def test_claims_are_limited_a_day_and_scoped_to_the_team(teams):
    await rules.update_rules(SYSTEM, {"pool": {"claims_per_day": 2}})
    pooled = [await _customer(f"pooled {i}", teams["east"], None) for i in range(3)]
    western = await _customer("western", teams["west"], None)
    claimer = await _scope_of(teams["claimer"])
    page = await pool.customer_pool(claimer, PageArgs(first=10))
    assert {row["id"] for row in page.rows} == set(pooled) and await pool.count_pool(claimer) == 3
    assert western not in {row["id"] for row in page.rows}

    with pytest.raises(DomainError) as refused:
        await pool.claim_customer(claimer, western)
    assert refused.value.errors[0].code is ErrorCode.NOT_FOUND
    claimed = await pool.claim_customer(claimer, pooled[0])
    assert claimed["owner_id"] == teams["claimer"]
    await pool.claim_customer(claimer, pooled[1])
    with pytest.raises(DomainError) as limited:
        await pool.claim_customer(claimer, pooled[2])
    assert limited.value.errors[0].code is ErrorCode.RATE_LIMITED
    assert (await Customer.get(id=pooled[2])).owner_id is None
    assert await PoolClaim.filter(user_id=teams["claimer"]).count() == 2
    # Claimed: out of the pool for the others, and still the claimer's (OWN scope).
    other = await _scope_of(teams["other"])
    assert {row["id"] for row in (await pool.customer_pool(other, PageArgs(first=10))).rows} == {pooled[2]}
    with pytest.raises(DomainError) as taken:
        await pool.claim_customer(other, pooled[0])
    assert taken.value.errors[0].code is ErrorCode.TAKEN
    # The seller (no customer.claim) sees no pool at all.
    seller = await _scope_of(teams["seller"])
    with pytest.raises(DomainError):
        await pool.customer_pool(seller, PageArgs(first=10))


async def test_two_claims_at_once_give_the_customer_to_one(teams):
    customer = await _customer("contested", teams["east"], None)
    claimer, other = await _scope_of(teams["claimer"]), await _scope_of(teams["other"])
    results = await asyncio.gather(pool.claim_customer(claimer, customer), pool.claim_customer(other, customer),
                                   return_exceptions=True)
    won = [r for r in results if isinstance(r, dict)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 1 and len(lost) == 1 and lost[0].errors[0].code is ErrorCode.TAKEN
    owner = (await Customer.get(id=customer)).owner_id
    assert owner == won[0]["owner_id"] and await PoolClaim.filter(customer_id=customer).count() == 1
    assert await AuditEvent.filter(action="customer.claim", customer_id=customer).count() == 1


async def test_release_and_claim_through_the_api(teams, as_user):
    customer = await _customer("released by hand", teams["east"], teams["seller"])
    seller = as_user(await bearer_for_user(teams["seller"]))
    claimer = as_user(await bearer_for_user(teams["claimer"]))
    westerner = as_user(await bearer_for_user(teams["westerner"]))
    from schema.ids import to_global_id

    gid = to_global_id("Customer", customer)
    release = "mutation($id: ID!) { releaseCustomer(input: {id: $id}) { customer { id ownerId } errors { code message } } }"
    released = (await ask(seller, release, {"id": gid}))["data"]["releaseCustomer"]
    # Released from an OWN scope: the seller no longer sees it, so the answer is null, without errors.
    assert released == {"customer": None, "errors": []}
    again = (await ask(claimer, release, {"id": gid}))["data"]["releaseCustomer"]
    assert again["errors"][0]["code"] == "FORBIDDEN"  # claimer holds no customer.update

    pool_query = "{ customerPool(first: 10) { totalCount edges { node { id name ownerId teamId } } } }"
    east_pool = (await ask(claimer, pool_query))["data"]["customerPool"]
    assert east_pool["totalCount"] == 1 and east_pool["edges"][0]["node"]["name"] == "released by hand"
    assert (await ask(westerner, pool_query))["data"]["customerPool"] == {"totalCount": 0, "edges": []}
    claim = "mutation($id: ID!) { claimCustomer(input: {id: $id}) { customer { id ownerId } errors { code } } }"
    assert (await ask(westerner, claim, {"id": gid}))["data"]["claimCustomer"]["errors"][0]["code"] == "NOT_FOUND"
    claimed = (await ask(claimer, claim, {"id": gid}))["data"]["claimCustomer"]
    assert claimed["errors"] == [] and claimed["customer"]["ownerId"] == to_global_id("User", teams["claimer"])
    assert (await Customer.get(id=customer)).owner_id == teams["claimer"]
    assert await AuditEvent.filter(action="customer.release", customer_id=customer).count() == 1
    timeline = "query($id: ID!) { customer(id: $id) { poolEvents { kind actorId fromOwnerId toOwnerId } } }"
    events = (await ask(claimer, timeline, {"id": gid}))["data"]["customer"]["poolEvents"]
    assert events == [
        {"kind": "CLAIMED", "actorId": to_global_id("User", teams["claimer"]), "fromOwnerId": None,
         "toOwnerId": to_global_id("User", teams["claimer"])},
        {"kind": "RELEASED", "actorId": to_global_id("User", teams["seller"]),
         "fromOwnerId": to_global_id("User", teams["seller"]), "toOwnerId": None},
    ]
    assert (await ask(westerner, timeline, {"id": gid}))["data"]["customer"] is None


async def test_the_pool_is_a_list_to_claim_from_not_a_reach_over_its_customers(teams):
    from models.customers import customers_by_ids, delete_customer, update_customer

    editor = await staff_member("editor@example.com", ["customer.read", "customer.claim", "customer.update", "customer.delete"],
                                "OWN", teams["east"])
    pooled = await _customer("pooled", teams["east"], None)
    owned = await _customer("owned by seller", teams["east"], teams["seller"])
    scope = await _scope_of(editor["id"])
    assert [row["id"] for row in (await pool.customer_pool(scope, PageArgs(first=10))).rows] == [pooled]
    assert await customers_by_ids(scope, [pooled, owned]) == {}  # nothing more of them until claimed
    for change in (update_customer(scope, pooled, {"name": "renamed"}), delete_customer(scope, pooled)):
        with pytest.raises(DomainError) as refused:
            await change
        assert refused.value.errors[0].code is ErrorCode.NOT_FOUND
    stored = await Customer.get(id=pooled)
    assert stored.name == "pooled" and stored.deleted_at is None
    await pool.claim_customer(scope, pooled)
    assert set(await customers_by_ids(scope, [pooled, owned])) == {pooled}


async def test_taken_is_said_only_of_a_customer_claimed_from_the_pool(teams):
    teammates = await _customer("a teammate's own", teams["east"], teams["seller"])
    claimer = await _scope_of(teams["claimer"])
    with pytest.raises(DomainError) as refused:
        await pool.claim_customer(claimer, teammates)
    assert refused.value.errors[0].code is ErrorCode.NOT_FOUND  # never in the pool: owners are not told


async def test_a_fresh_claim_is_not_released_by_an_old_touch(teams):
    customer = await _customer("old friend", teams["east"], None)
    await Interaction.create(customer_id=customer, kind="call", direction="outbound", summary="hi",
                             occurred_at=NOW - timedelta(days=100), logged_by_id=teams["claimer"])
    await segments.recompute()
    await rules.update_rules(SYSTEM, {"pool": {"potential_days": 30}})
    claimer = await _scope_of(teams["claimer"])
    await pool.claim_customer(claimer, customer)
    assert await pool.sweep() == 0 and (await Customer.get(id=customer)).owner_id == teams["claimer"]
    assert await pool.about_to_release(claimer) == []
