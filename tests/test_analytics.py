"""Analytics: each figure on hand-built data, the same on SQLite and PostgreSQL, under each data
scope and for one team; months in the business's time zone; bad windows refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from models import analytics
from models.churn import ChurnAlert
from models.complaints import Complaint, file_complaint
from models.customers import Customer, create_customer
from models.orders import record_order
from models.scope import Scope
from models.segments import CustomerSegment, ExchangeRate
from models.staff import create_team
from models.surveys import SurveyAnswer
from schema.ids import to_global_id
from tests.conftest import ask, bearer_for_user, staff_member

SYSTEM = Scope.of_system()
FIGURES = """
query($from: Date, $to: Date, $team: ID) { analytics(from: $from, to: $to, teamId: $team) {
  from to teamId
  tierDistribution { tier customers } lifecycleFunnel { stage customers }
  newCustomers { month count } revenue { month amount { amount currency } orders }
  averageOrderValue { amount } retentionRate repeatPurchaseRate averageCsat nps
  satisfaction { month averageCsat nps answers } complaintResolutionHours { median p90 resolved }
  slaComplianceRate topReferrers(first: 5) { customer { name } revenue { amount } customers } churnAlertsOpened
} }
"""
WINDOW = {"from": "2026-01-01", "to": "2026-03-31"}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass
class Base:
    east: int
    west: int


async def _customer(name: str, team: int, created: str, tier: str, stage: str, referrer: int | None = None) -> int:
    made = await create_customer(SYSTEM, {"name": name})
    await Customer.filter(id=made["id"]).update(team_id=team, created_at=_at(created), referrer_id=referrer,
                                                referred_at=_at(created) if referrer else None)
    await CustomerSegment.create(customer_id=made["id"], frequency=1, monetary=Decimal(1), paid_orders=1, touches=0,
                                 tier=tier, stage=stage, computed_at=datetime.now(UTC))
    return made["id"]


async def _paid(customer: int, amount: str, at: str, currency: str = "CNY", status: str = "paid") -> None:
    await record_order(SYSTEM, customer, {"amount": Decimal(amount), "currency": currency, "status": status,
                                          "placed_at": _at(at), "paid_at": _at(at)})


async def _complaint(customer: int, filed: str, hours: float, breached: bool, csat: int, nps: int, answered: str) -> None:
    made = await file_complaint(SYSTEM, customer, {"subject": "慢", "description": "太慢了", "channel": "phone", "category": "delivery"})
    await Complaint.filter(id=made["id"]).update(
        created_at=_at(filed), resolved_at=_at(filed) + timedelta(hours=hours), status="resolved", resolution_breached=breached,
    )
    await SurveyAnswer.create(complaint_id=made["id"], customer_id=customer, csat=csat, nps=nps, via="link", answered_at=_at(answered))


@pytest.fixture
async def base(clean_db) -> Base:
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    await ExchangeRate.create(currency="USD", rate=Decimal(7), updated_at=datetime.now(UTC))
    a = await _customer("阿", east, "2026-01-10T10:00:00+08:00", "vip", "loyal")
    b = await _customer("波", east, "2025-11-01T10:00:00+08:00", "dormant", "at_risk", referrer=a)
    c = await _customer("陈", east, "2026-02-05T10:00:00+08:00", "active", "new", referrer=a)
    d = await _customer("丁", west, "2026-01-20T10:00:00+08:00", "vip", "new", referrer=c)
    # Created at 01:00 on 1 January in Shanghai (the last day of the year in UTC); paid at 01:00 on 1 April.
    e = await _customer("鹅", east, "2026-01-01T01:00:00+08:00", "potential", "prospect")
    await _paid(a, "80", "2025-12-10T12:00:00+08:00")  # the span before: a buys again, b does not
    await _paid(b, "90", "2025-11-20T12:00:00+08:00")
    await _paid(a, "100", "2026-01-15T12:00:00+08:00")
    await _paid(a, "200", "2026-02-10T12:00:00+08:00")
    await _paid(a, "5000", "2026-02-11T12:00:00+08:00", "JPY")  # no rate says what yen are worth: no revenue
    await _paid(c, "10", "2026-03-01T12:00:00+08:00", "USD")
    await _paid(c, "500", "2026-03-02T12:00:00+08:00", status="refunded")
    await _paid(d, "1000", "2026-01-21T12:00:00+08:00")
    await _paid(e, "999", "2026-04-01T01:00:00+08:00")
    await _complaint(a, "2026-01-05T10:00:00+08:00", 10, False, 5, 10, "2026-01-06T10:00:00+08:00")
    await _complaint(c, "2026-02-01T10:00:00+08:00", 30, True, 2, 3, "2026-02-03T10:00:00+08:00")
    await _complaint(d, "2026-01-22T10:00:00+08:00", 2, False, 4, 9, "2026-01-23T10:00:00+08:00")
    staff = await staff_member("any@example.com", ["customer.read"])
    await ChurnAlert.create(customer_id=b, assignee_id=staff["id"], last_paid_at=_at("2025-11-20T12:00:00+08:00"),
                            days_since=87, threshold_days=60, opened_at=_at("2026-02-15T09:00:00+08:00"))
    return Base(east, west)


def _money(amount: str) -> dict:
    return {"amount": amount, "currency": "CNY"}


async def _figures(as_user, permissions, scope="ALL", team=None, variables=None):
    email = f"{scope.lower()}-{len(permissions)}@example.com"
    http = as_user(await bearer_for_user((await staff_member(email, permissions, scope, team))["id"]))
    return await ask(http, FIGURES, WINDOW if variables is None else variables)


async def test_every_figure_for_a_viewer_of_everyone(base, as_user):
    got = (await _figures(as_user, ["customer.read", "complaint.read"]))["data"]["analytics"]
    assert (got["from"], got["to"], got["teamId"]) == ("2026-01-01", "2026-03-31", None)
    assert got["tierDistribution"] == [{"tier": "VIP", "customers": 2}, {"tier": "ACTIVE", "customers": 1},
                                       {"tier": "POTENTIAL", "customers": 1}, {"tier": "DORMANT", "customers": 1}]
    assert got["lifecycleFunnel"] == [
        {"stage": "PROSPECT", "customers": 1}, {"stage": "NEW", "customers": 2}, {"stage": "ACTIVE", "customers": 0},
        {"stage": "LOYAL", "customers": 1}, {"stage": "AT_RISK", "customers": 1}, {"stage": "CHURNED", "customers": 0},
    ]
    assert got["newCustomers"] == [{"month": "2026-01", "count": 3}, {"month": "2026-02", "count": 1}, {"month": "2026-03", "count": 0}]
    assert got["revenue"] == [
        {"month": "2026-01", "amount": _money("1100.00"), "orders": 2},
        {"month": "2026-02", "amount": _money("200.00"), "orders": 1},
        {"month": "2026-03", "amount": _money("70.00"), "orders": 1},
    ]
    assert got["averageOrderValue"] == {"amount": "342.50"}
    assert (got["retentionRate"], got["repeatPurchaseRate"]) == (0.5, 0.3333)
    assert (got["averageCsat"], got["nps"]) == (3.67, 33)
    assert got["satisfaction"] == [
        {"month": "2026-01", "averageCsat": 4.5, "nps": 100, "answers": 2},
        {"month": "2026-02", "averageCsat": 2.0, "nps": -100, "answers": 1},
        {"month": "2026-03", "averageCsat": None, "nps": None, "answers": 0},
    ]
    assert got["complaintResolutionHours"] == {"median": 10.0, "p90": 30.0, "resolved": 3}
    assert got["slaComplianceRate"] == 0.6667
    assert got["topReferrers"] == [
        {"customer": {"name": "阿"}, "revenue": {"amount": "1070.00"}, "customers": 2},
        {"customer": {"name": "陈"}, "revenue": {"amount": "1000.00"}, "customers": 1},
    ]
    assert got["churnAlertsOpened"] == 1


async def test_resolution_times_round_their_seconds_half_up_on_either_database(clean_db, as_user):
    team = (await create_team(SYSTEM, "East"))["id"]
    customer = await _customer("阿", team, "2026-01-10T10:00:00+08:00", "vip", "loyal")
    for seconds in (359.5, 359.5, 359.4):  # 6 minutes less half a second, and less a little more
        await _complaint(customer, "2026-02-01T10:00:00+08:00", seconds / 3600, False, 5, 10, "2026-02-02T10:00:00+08:00")
    got = (await _figures(as_user, ["customer.read", "complaint.read"]))["data"]["analytics"]
    assert got["complaintResolutionHours"] == {"median": 0.1, "p90": 0.1, "resolved": 3}


async def test_a_team_viewer_counts_its_own_customers_only(base, as_user):
    got = (await _figures(as_user, ["customer.read", "complaint.read"], "TEAM", base.east))["data"]["analytics"]
    assert got["newCustomers"] == [{"month": "2026-01", "count": 2}, {"month": "2026-02", "count": 1}, {"month": "2026-03", "count": 0}]
    assert [m["amount"]["amount"] for m in got["revenue"]] == ["100.00", "200.00", "70.00"]
    assert got["averageOrderValue"] == {"amount": "123.33"}
    assert (got["retentionRate"], got["repeatPurchaseRate"]) == (0.5, 0.5)
    assert (got["averageCsat"], got["nps"]) == (3.5, 0)
    assert got["complaintResolutionHours"] == {"median": 20.0, "p90": 30.0, "resolved": 2}
    assert got["slaComplianceRate"] == 0.5
    # 丁 of West paid 1000 through 陈: East sees neither that revenue nor 陈 as a referrer.
    assert got["topReferrers"] == [{"customer": {"name": "阿"}, "revenue": {"amount": "70.00"}, "customers": 1}]
    assert sum(t["customers"] for t in got["tierDistribution"]) == 4


async def test_one_team_of_an_all_viewer_and_the_figures_that_need_complaint_read(base, as_user):
    west = to_global_id("Team", base.west)
    got = (await _figures(as_user, ["customer.read"], variables={**WINDOW, "team": west}))["data"]["analytics"]
    assert got["teamId"] == west
    assert got["newCustomers"][0] == {"month": "2026-01", "count": 1}
    assert got["revenue"][0]["amount"] == _money("1000.00") and got["topReferrers"] == []
    assert [got[name] for name in ("averageCsat", "nps", "satisfaction", "complaintResolutionHours", "slaComplianceRate")] == [None] * 5


async def test_a_bad_window_or_a_team_out_of_reach_is_refused(base, as_user):
    east_seller = as_user(await bearer_for_user((await staff_member("e@example.com", ["customer.read"], "TEAM", base.east))["id"]))
    cases = [
        ({"from": "2026-03-01", "to": "2026-01-01"}, "from"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "from"),
        ({**WINDOW, "team": to_global_id("Team", base.west)}, "teamId"),
        ({**WINDOW, "team": "bm9wZQ=="}, "teamId"),
    ]
    for variables, field in cases:
        answer = await ask(east_seller, FIGURES, variables)
        assert answer["data"] is None and answer["errors"][0]["extensions"]["field"] == field, variables
    nobody = as_user(await bearer_for_user((await staff_member("n@example.com", []))["id"]))
    assert (await ask(nobody, FIGURES, WINDOW))["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_default_window_is_the_twelve_months_to_today(base, as_user):
    got = (await _figures(as_user, ["customer.read"], variables={}))["data"]["analytics"]
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert got["to"] == today.isoformat() and got["from"].endswith("-01") and len(got["newCustomers"]) == 12
    assert got["newCustomers"][-1]["month"] == today.strftime("%Y-%m")


async def test_an_own_viewer_counts_the_customers_it_owns(base, as_user):
    owner = await staff_member("own@example.com", ["customer.read", "complaint.read"], "OWN")
    await Customer.filter(name__in=["阿", "丁"]).update(owner_id=owner["id"])
    http = as_user(await bearer_for_user(owner["id"]))
    got = (await ask(http, FIGURES, WINDOW))["data"]["analytics"]
    assert [m["amount"]["amount"] for m in got["revenue"]] == ["1100.00", "200.00", "0.00"]
    assert (got["retentionRate"], got["repeatPurchaseRate"]) == (1.0, 0.5)
    assert got["complaintResolutionHours"] == {"median": 6.0, "p90": 10.0, "resolved": 2}
    # 丁 reached 阿 through 陈, whom this viewer does not own: the chain ends at 陈, so no link through 陈 shows.
    assert got["topReferrers"] == []
    assert sum(t["customers"] for t in got["tierDistribution"]) == 2


async def test_one_team_counts_its_own_payers_and_chains_only(base, as_user):
    http = as_user(await bearer_for_user((await staff_member("all@example.com", ["customer.read"]))["id"]))
    east = (await ask(http, FIGURES, {**WINDOW, "team": to_global_id("Team", base.east)}))["data"]["analytics"]
    # 丁 of West paid 1000 below 陈 and 阿 of East: not a figure of East's.
    assert east["topReferrers"] == [{"customer": {"name": "阿"}, "revenue": {"amount": "70.00"}, "customers": 1}]


async def test_days_outside_the_years_a_window_may_take_are_refused_not_a_500(base, as_user):
    http = as_user(await bearer_for_user((await staff_member("all@example.com", ["customer.read"]))["id"]))
    for variables, field in (({"from": "0001-01-01", "to": "2026-01-31"}, "from"), ({"to": "9999-12-31"}, "to"),
                             ({"from": "9999-12-01", "to": "9999-12-31"}, "to")):
        answer = await ask(http, FIGURES, variables)
        assert answer["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, variables


def test_scores_round_half_away_from_zero():
    assert (analytics._nps(1, 0, 8), analytics._nps(0, 1, 8), analytics._nps(3, 1, 4)) == (13, -13, 50)
    assert analytics._rate(1, 8) == 0.125 and analytics._rate(1, 3) == 0.3333 and analytics._rate(2, 3) == 0.6667
