"""Segment filters on customers(filter:) and saved segments: each condition, totalCount, scope, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from models import complaints, saved_segments, segments
from models.customer_filter import CustomerFilter
from models.customers import Customer, CustomerOrder, count_customers, create_customer, list_customers
from models.errors import DomainError
from models.orders import Order
from models.pagination import PageArgs
from models.saved_segments import SavedSegment
from models.scope import Scope
from models.segments import Stage, Tier
from models.staff import create_team
from schema.ids import to_global_id
from tests.conftest import ask, bearer_for_user, staff_member

SYSTEM = Scope.of_system()
NOW = datetime.now(UTC)


async def _customer(name: str, team: int, owner: int | None = None, **fields) -> int:
    made = (await create_customer(SYSTEM, {"name": name, **fields}))["id"]
    await Customer.filter(id=made).update(team_id=team, owner_id=owner)
    return made


async def _paid(customer: int, days_ago: int, amount: str = "100") -> None:
    await Order.create(customer_id=customer, amount=Decimal(amount), currency="CNY", status="paid",
                       placed_at=NOW - timedelta(days=days_ago))


async def _names(scope: Scope, chosen: CustomerFilter) -> set[str]:
    page = await list_customers(scope, chosen, CustomerOrder.NAME.key(), PageArgs(first=100))
    assert await count_customers(scope, chosen) == len(page.rows)
    return {row["name"] for row in page.rows}


@pytest.fixture
async def base(clean_db):
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    seller = await staff_member("seller@example.com", ["customer.read", "complaint.read"], "TEAM", east)
    people = {
        "recent": await _customer("recent", east, seller["id"], tags=["vip"], source="wechat"),
        "old": await _customer("old", east, None, birthday=(NOW + timedelta(days=3)).date().replace(year=1992)),
        "never": await _customer("never", east),
        "western": await _customer("western", west, tags=["vip"]),
    }
    await _paid(people["recent"], 2, "9000")
    await _paid(people["old"], 200)
    await _paid(people["western"], 1, "9000")
    complaint = await complaints.file_complaint(
        SYSTEM, people["old"], {"subject": "late", "description": "late", "channel": "phone", "category": "delivery"})
    await segments.recompute()
    scope = await Scope.for_viewer(await _viewer(seller["id"]))
    return {"east": east, "west": west, "seller": seller["id"], "scope": scope, "complaint": complaint["id"], **people}


async def _viewer(user_id: int):
    from models.access import User, viewer_of

    return await viewer_of(await User.get(id=user_id))


async def test_each_condition_narrows_within_scope(base):
    scope = base["scope"]
    tiers = {row["customer_id"]: row["tier"] for row in await segments.CustomerSegment.all().values("customer_id", "tier")}
    assert tiers[base["recent"]] in ("vip", "active") and tiers[base["old"]] == "dormant"
    assert await _names(scope, CustomerFilter(tiers=(Tier.DORMANT,))) == {"old"}
    assert await _names(scope, CustomerFilter(stages=(Stage.PROSPECT,))) == {"never"}
    # Three payers in quintiles 1, 2, 3 by recency: old, recent, western (hidden).
    assert await _names(scope, CustomerFilter(recency_min=2)) == {"recent"}
    assert await _names(scope, CustomerFilter(tags=("vip",))) == {"recent"}
    assert await _names(scope, CustomerFilter(owner_ids=(base["seller"],))) == {"recent"}
    assert await _names(scope, CustomerFilter(team_ids=(base["west"],))) == set()
    assert await _names(scope, CustomerFilter(last_paid_after=NOW - timedelta(days=30))) == {"recent"}
    assert await _names(scope, CustomerFilter(last_paid_before=NOW - timedelta(days=30))) == {"old"}
    assert await _names(scope, CustomerFilter(has_open_complaint=True)) == {"old"}
    assert await _names(scope, CustomerFilter(has_open_complaint=False)) == {"recent", "never"}
    assert await _names(SYSTEM, CustomerFilter(birthday_within_days=7)) == {"old"}
    assert await _names(SYSTEM, CustomerFilter(birthday_within_days=1)) == set()
    # The last paid order decides: an old one does not make a customer who paid again last week "last paid before".
    await _paid(base["recent"], 300)
    await Order.create(customer_id=base["old"], amount=Decimal(5), currency="CNY", status="pending", placed_at=NOW)
    assert await _names(scope, CustomerFilter(last_paid_before=NOW - timedelta(days=30))) == {"old"}
    assert await _names(scope, CustomerFilter(last_paid_after=NOW - timedelta(days=100))) == {"recent"}


async def test_bad_filters_are_refused_with_every_error(base):
    with pytest.raises(DomainError) as refused:
        await count_customers(SYSTEM, CustomerFilter(recency_min=0, monetary_min=4, monetary_max=2, birthday_within_days=99))
    assert {(e.field, e.code.value) for e in refused.value.errors} == {
        ("recencyMin", "invalid"), ("monetaryMax", "invalid"), ("birthdayWithinDays", "invalid")}
    # A birthday filter would tell masked birthdays: it needs customer.pii.
    with pytest.raises(DomainError) as forbidden:
        await count_customers(base["scope"], CustomerFilter(birthday_within_days=3))
    assert forbidden.value.errors[0].code.value == "forbidden"
    # Complaints are read with complaint.read: without it, nobody is told who has one open.
    reader = await staff_member("reader@example.com", ["customer.read"], "TEAM", base["east"])
    with pytest.raises(DomainError) as hidden:
        await count_customers(await Scope.for_viewer(await _viewer(reader["id"])), CustomerFilter(has_open_complaint=True))
    assert (hidden.value.errors[0].field, hidden.value.errors[0].code.value) == ("hasOpenComplaint", "forbidden")


async def test_a_saved_segment_is_evaluated_live_under_each_readers_scope(base, as_user):
    everyone = await staff_member("boss@example.com", ["customer.read"], "ALL")
    seller = as_user(await bearer_for_user(base["seller"]))
    boss = as_user(await bearer_for_user(everyone["id"]))
    save = """mutation($f: CustomerFilterInput!, $shared: Boolean!) {
      saveSegment(input: {name: "大客户", filter: $f, shared: $shared}) {
        segment { id name shared filter customers(first: 10) { totalCount edges { node { name } } } } errors { field code } } }"""
    saved = (await ask(seller, save, {"f": {"tags": ["vip"], "recencyMin": 2}, "shared": True}))["data"]["saveSegment"]
    assert saved["errors"] == []
    segment = saved["segment"]
    assert segment["filter"] == {"tags": ["vip"], "recencyMin": 2}
    assert segment["customers"]["totalCount"] == 1 and segment["customers"]["edges"][0]["node"]["name"] == "recent"
    read = "query($id: ID!) { segment(id: $id) { name customers { totalCount edges { node { name } } } } }"
    seen_by_boss = (await ask(boss, read, {"id": segment["id"]}))["data"]["segment"]
    assert seen_by_boss["customers"]["totalCount"] == 2  # the boss sees the western customer too
    # Live: a new matching customer is counted at once.
    await _customer("newcomer", base["east"], tags=["vip"])
    await _paid((await Customer.get(name="newcomer")).id, 1)
    await segments.recompute()
    assert (await ask(seller, read, {"id": segment["id"]}))["data"]["segment"]["customers"]["totalCount"] == 2
    # Shared: read by others, changed by its owner only.
    rename = 'mutation($id: ID!) { saveSegment(input: {id: $id, name: "x", filter: {}}) { errors { code } } }'
    assert (await ask(boss, rename, {"id": segment["id"]}))["data"]["saveSegment"]["errors"][0]["code"] == "FORBIDDEN"
    assert (await SavedSegment.get(id=int(_pk(segment["id"])))).name == "大客户"
    listed = (await ask(boss, "{ savedSegments { name shared } }"))["data"]["savedSegments"]
    assert listed == [{"name": "大客户", "shared": True}]
    # A search kept in a shared segment may be a phone number: shown to its owner and with customer.pii only.
    searched = (await ask(seller, save.replace("大客户", "by phone"), {"f": {"search": "13812345678"}, "shared": True}))
    segment_id = searched["data"]["saveSegment"]["segment"]["id"]
    shown = "query($id: ID!) { segment(id: $id) { filter } }"
    assert (await ask(seller, shown, {"id": segment_id}))["data"]["segment"]["filter"] == {"search": "13812345678"}
    assert (await ask(boss, shown, {"id": segment_id}))["data"]["segment"]["filter"] == {}


def _pk(global_id: str) -> str:
    import base64

    return base64.b64decode(global_id).decode().split(":")[1]


async def test_private_segments_duplicates_and_bad_filters(base, as_user):
    other = await staff_member("other@example.com", ["customer.read"], "TEAM", base["east"])
    seller = as_user(await bearer_for_user(base["seller"]))
    save = 'mutation($f: CustomerFilterInput!) { saveSegment(input: {name: "mine", filter: $f}) { segment { id } errors { field code } } }'
    first = (await ask(seller, save, {"f": {"tiers": ["DORMANT"]}}))["data"]["saveSegment"]
    assert first["errors"] == []
    again = (await ask(seller, save, {"f": {}}))["data"]["saveSegment"]
    assert again["errors"] == [{"field": "name", "code": "DUPLICATE"}]
    bad = (await ask(seller, save.replace('"mine"', '"bad"'), {"f": {"frequencyMin": 9}}))["data"]["saveSegment"]
    assert bad["errors"] == [{"field": "frequencyMin", "code": "INVALID"}]
    assert await SavedSegment.all().count() == 1
    stranger = as_user(await bearer_for_user(other["id"]))
    read = "query($id: ID!) { segment(id: $id) { name } }"
    assert (await ask(stranger, read, {"id": first["segment"]["id"]}))["data"]["segment"] is None
    delete = "mutation($id: ID!) { deleteSegment(input: {id: $id}) { segment { name } errors { code } } }"
    assert (await ask(stranger, delete, {"id": first["segment"]["id"]}))["data"]["deleteSegment"]["errors"][0]["code"] == "NOT_FOUND"
    deleted = (await ask(seller, delete, {"id": first["segment"]["id"]}))["data"]["deleteSegment"]
    assert deleted == {"segment": {"name": "mine"}, "errors": []}
    assert await SavedSegment.all().count() == 0
    assert await saved_segments.saved_segments(base["scope"]) == []


async def test_customers_filter_takes_the_segment_conditions_through_the_api(base, as_user):
    seller = as_user(await bearer_for_user(base["seller"]))
    query = "query($f: CustomerFilterInput) { customers(filter: $f) { totalCount edges { node { name ownerId } } } }"
    found = (await ask(seller, query, {"f": {"tiers": ["DORMANT"], "hasOpenComplaint": True}}))["data"]["customers"]
    assert found == {"totalCount": 1, "edges": [{"node": {"name": "old", "ownerId": None}}]}
    by_owner = (await ask(seller, query, {"f": {"ownerIds": [to_global_id("User", base["seller"])]}}))["data"]["customers"]
    assert [edge["node"]["name"] for edge in by_owner["edges"]] == ["recent"]
    bad = await ask(seller, query, {"f": {"ownerIds": ["nonsense"]}})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    forbidden = await ask(seller, query, {"f": {"birthdayWithinDays": 3}})
    assert "customer.pii" in forbidden["errors"][0]["message"]


async def test_a_customers_segment_is_refreshed_after_a_new_order(base):
    never = base["never"]
    assert (await segments.CustomerSegment.get(customer_id=never)).stage == "prospect"
    later = datetime.now(UTC) + segments.STALE_MARGIN * 2  # orders of the last minute are refreshed again, to be sure
    assert await segments.refresh(later) == 0  # nothing changed since the recompute
    from models.orders import record_order

    await record_order(SYSTEM, never, {"amount": Decimal("20000"), "currency": "CNY", "status": "paid"})
    assert await segments.refresh(later) == 1
    refreshed = await segments.CustomerSegment.get(customer_id=never)
    # Scored against the stored quintiles: three payers fill quintiles 1 to 3, and it tops them.
    assert (refreshed.stage, refreshed.tier, refreshed.r, refreshed.f, refreshed.m) == ("new", "active", 3, 3, 3)
    changes = await segments.SegmentChange.filter(customer_id=never).order_by("id").values_list("to_stage", flat=True)
    assert changes == ["prospect", "new"]
    # A new customer gets a segment at the next sweep, without waiting for the night.
    newcomer = (await create_customer(SYSTEM, {"name": "newcomer"}))["id"]
    assert await segments.refresh(later) == 1
    assert (await segments.CustomerSegment.get(customer_id=newcomer)).stage == "prospect"
