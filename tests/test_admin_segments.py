"""The admin's customer list with segment filters and saved segments, the rules page, and the pool on My day."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from models import segments
from models.access import User
from models.customers import Customer, create_customer
from models.orders import Order
from models.saved_segments import SavedSegment
from models.scope import Scope
from models.segments import ExchangeRate
from models.settings import Setting
from models.staff import create_team
from tests.test_admin import signed_in

SYSTEM = Scope.of_system()
NOW = datetime.now(UTC)


async def _customer(name: str, team: int, owner: int | None = None, paid_days_ago: int | None = None) -> int:
    made = (await create_customer(SYSTEM, {"name": name}))["id"]
    await Customer.filter(id=made).update(team_id=team, owner_id=owner, created_at=NOW - timedelta(days=300))
    if paid_days_ago is not None:
        await Order.create(customer_id=made, amount=Decimal("100"), currency="CNY", status="paid",
                           placed_at=NOW - timedelta(days=paid_days_ago))
    return made


def _names(html: str) -> set[str]:
    return set(re.findall(r'<a href="/admin/customers/\d+">([^<]+)</a>', html))


async def test_the_list_filters_by_segment_shows_badges_and_keeps_saved_segments(browser):
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    http, csrf = await signed_in(browser, ["customer.read"], email="east@example.com", scope="TEAM", team_id=east)
    await _customer("sleepy", east, paid_days_ago=200)
    await _customer("fresh", east, paid_days_ago=3)
    await _customer("prospect", east)
    await _customer("western sleeper", west, paid_days_ago=200)
    await segments.recompute()

    everyone = await http.get("/admin/customers")
    assert everyone.status_code == 200 and _names(everyone.text) == {"sleepy", "fresh", "prospect"}
    assert "Customers found: 3" in everyone.text and "public pool" in everyone.text  # nobody owns them
    dormant = await http.get("/admin/customers", params={"tier": "dormant"})
    assert _names(dormant.text) == {"sleepy"} and ">Dormant</span>" in dormant.text and "Customers found: 1" in dormant.text
    unreadable = await http.get("/admin/customers", params={"paid_after": "yesterday", "birthday_days": "x"})
    assert unreadable.status_code == 400 and "lastPaidAfter" in unreadable.text and "birthdayWithinDays" in unreadable.text
    refused = await http.get("/admin/customers", params={"recency_min": "9"})
    assert refused.status_code == 400 and "recencyMin" in refused.text

    query = "tier=dormant&stage=at_risk"
    no_csrf = await http.post("/admin/customers/segments", data={"name": "沉睡客户", "query": query})
    assert no_csrf.status_code == 403 and await SavedSegment.all().count() == 0
    saved = await http.post("/admin/customers/segments", data={"csrf_token": csrf, "name": "沉睡客户", "query": query})
    assert saved.status_code == 303
    segment = await SavedSegment.get()
    assert segment.conditions == {"tiers": ["dormant"], "stages": ["at_risk"]}
    shown = await http.get(saved.headers["location"])
    assert "沉睡客户" in shown.text and _names(shown.text) == {"sleepy"}
    duplicate = await http.post("/admin/customers/segments", data={"csrf_token": csrf, "name": "沉睡客户", "query": ""})
    assert duplicate.status_code == 400 and await SavedSegment.all().count() == 1
    deleted = await http.post(f"/admin/customers/segments/{segment.id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303 and await SavedSegment.all().count() == 0


async def test_the_rules_page_changes_rules_and_rates_for_configurers_only(browser):
    reader, _ = await signed_in(browser, ["customer.read"], email="reader@example.com")
    assert (await reader.get("/admin/rules")).status_code == 403
    http, csrf = await signed_in(browser, ["customer.read", "customer.configure"], email="boss@example.com")
    page = await http.get("/admin/rules")
    assert page.status_code == 200 and 'name="dormant_days"' in page.text and 'value="120"' in page.text
    unknown = await http.post("/admin/rules", data={"csrf_token": csrf, "section": "nonsense"})
    assert unknown.status_code == 400 and "no such section" in unknown.text
    bad = await http.post("/admin/rules", data={"csrf_token": csrf, "section": "pool", "vip_days": "0", "claims_per_day": "5"})
    assert bad.status_code == 400 and "vipDays" in bad.text and await Setting.all().count() == 0
    good = await http.post("/admin/rules", data={"csrf_token": csrf, "section": "pool", "vip_days": "45", "active_days": "",
                                                  "potential_days": "", "dormant_days": "", "claims_per_day": "5"})
    assert good.status_code == 200 and (await Setting.get(key="pool")).value == {"vip_days": 45, "claims_per_day": 5}
    rate = await http.post("/admin/rules/rates", data={"csrf_token": csrf, "currency": "usd", "rate": "7.2"})
    assert rate.status_code == 200 and (await ExchangeRate.get(currency="USD")).rate == Decimal("7.2")
    forged = await http.post("/admin/rules/rates", data={"currency": "EUR", "rate": "8"})
    assert forged.status_code == 403 and not await ExchangeRate.filter(currency="EUR").exists()


async def test_my_day_lists_the_pool_to_claim_and_what_is_about_to_go(browser):
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    http, csrf = await signed_in(browser, ["customer.read", "customer.claim", "customer.configure"], email="sales@example.com",
                                 scope="OWN", team_id=east)
    me = (await User.get(email="sales@example.com")).id
    mine = await _customer("mine, idle", east, owner=me)
    pooled = await _customer("in the pool", east)
    western = await _customer("western pool", west)
    await segments.recompute()
    await http.post("/admin/rules", data={"csrf_token": csrf, "section": "pool", "potential_days": "280", "claims_per_day": "10"})

    page = await http.get("/admin/today")
    assert page.status_code == 200
    assert 'data-releasing="%d"' % mine in page.text and 'data-pool="%d"' % pooled in page.text
    assert 'data-pool="%d"' % western not in page.text
    claimed = await http.post(f"/admin/today/pool/{pooled}/claim", headers={"hx-request": "true", "x-csrf-token": csrf})
    assert claimed.status_code == 200 and "yours now" in claimed.text
    assert (await Customer.get(id=pooled)).owner_id == me
    page = await http.get(f"/admin/customers/{pooled}")  # now theirs: its page, with the claim on its timeline
    assert page.status_code == 200 and "claimed from the pool" in page.text
    foreign = await http.post(f"/admin/today/pool/{western}/claim", headers={"hx-request": "true", "x-csrf-token": csrf})
    assert foreign.status_code == 404 and (await Customer.get(id=western)).owner_id is None


async def test_a_saved_segment_opens_exactly_and_keeps_what_the_form_cannot_show(browser):
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    http, csrf = await signed_in(browser, ["customer.read"], email="all@example.com")
    me = (await User.get(email="all@example.com")).id
    await _customer("eastern", east, paid_days_ago=200)
    await _customer("western", west, paid_days_ago=200)
    await _customer("western fresh", west, paid_days_ago=2)
    await segments.recompute()
    segment = await SavedSegment.create(name="west only", conditions={"team_ids": [west]}, owner_id=me)
    opened = await http.get("/admin/customers", params={"segment": str(segment.id)})
    assert _names(opened.text) == {"western", "western fresh"} and "the form does not show" in opened.text
    narrowed = await http.get("/admin/customers", params={"segment": str(segment.id), "filtered": "1", "tier": "dormant"})
    assert _names(narrowed.text) == {"western"}
    query = f"segment={segment.id}&filtered=1&tier=dormant"
    saved = await http.post("/admin/customers/segments", data={"csrf_token": csrf, "name": "west asleep", "query": query})
    assert saved.status_code == 303
    kept = (await SavedSegment.get(name="west asleep")).conditions
    assert kept == {"tiers": ["dormant"], "team_ids": [west]}
    unknown = await http.post("/admin/rules", data={"csrf_token": csrf, "section": "nonsense"})
    assert unknown.status_code == 403  # the page is for customer.configure, whatever the section
