"""Churn early warning: thresholds (global and personal), one alert per episode, closed by a payment, scope."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from models import churn
from models.access import User
from models.audit import AuditEvent
from models.churn import ChurnAlert
from models.customers import Customer, create_customer
from models.follow_ups import FollowUp
from models.orders import Order
from models.scope import Scope
from models.staff import create_team
from tests.conftest import ask, bearer_for_user, staff_member

SYSTEM = Scope.of_system()
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def _buyer(name: str, days_before: list[int], owner: int | None = None) -> int:
    customer = (await create_customer(SYSTEM, {"name": name}))["id"]
    if owner is not None:
        await Customer.filter(id=customer).update(owner_id=owner)
    for days in days_before:
        await Order.create(customer_id=customer, amount=Decimal("100"), currency="CNY", status="paid",
                           placed_at=AT - timedelta(days=days))
    return customer


async def test_alerts_open_once_by_the_greater_threshold_and_close_on_payment(clean_db):
    owner = await User.create(email="owner@example.com", display_name="owner", password_hash="!")
    late = await _buyer("late", [120], owner.id)  # one order, 120 days ago: past 113
    fine = await _buyer("fine", [100])  # 100 days: not yet
    # Ordered every 80 days: twice the median gap is 160, so 150 days is not late for them ...
    steady = await _buyer("steady", [150, 230, 310])
    # ... but 170 days is.
    slow = await _buyer("slow", [170, 250, 330], owner.id)
    swept = await churn.sweep(AT)
    assert swept == churn.Swept(opened=2, closed=0)
    alerts = {row["customer_id"]: row for row in await ChurnAlert.all().values()}
    assert set(alerts) == {late, slow}
    assert (alerts[late]["days_since"], alerts[late]["threshold_days"]) == (120, 113)
    assert (alerts[slow]["days_since"], alerts[slow]["threshold_days"]) == (170, 160)
    assert fine not in alerts and steady not in alerts
    assert await FollowUp.filter(assignee_id=owner.id, status="open").count() == 2
    assert (await churn.sweep(AT)).opened == 0  # an open alert is not opened again
    assert await AuditEvent.filter(action="churn_alert.open").count() == 2

    await Order.create(customer_id=late, amount=Decimal("50"), currency="CNY", status="paid", placed_at=AT + timedelta(days=1))
    swept = await churn.sweep(AT + timedelta(days=2))
    assert swept == churn.Swept(opened=0, closed=1)
    assert (await ChurnAlert.get(customer_id=late)).status == "closed"
    # A new episode later opens a new alert.
    swept = await churn.sweep(AT + timedelta(days=200))
    assert await ChurnAlert.filter(customer_id=late).count() == 2 and swept.opened >= 1


async def test_two_sweeps_at_once_open_one_alert_each(clean_db):
    customers = [await _buyer(f"c{i}", [130 + i]) for i in range(12)]
    first, second = await asyncio.gather(churn.sweep(AT), churn.sweep(AT))
    assert first.opened + second.opened == 12
    assert await ChurnAlert.filter(status="open").count() == 12
    assert sorted(await ChurnAlert.all().values_list("customer_id", flat=True)) == sorted(customers)


async def test_alerts_are_read_where_their_customer_is_visible(clean_db, as_user):
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    seen, hidden = await _buyer("东", [200]), await _buyer("西", [200])
    await Customer.filter(id=seen).update(team_id=east)
    await Customer.filter(id=hidden).update(team_id=west)
    await churn.sweep(AT)
    me = await staff_member("east@example.com", ["customer.read"], "TEAM", east)
    http = as_user(await bearer_for_user(me["id"]))
    found = (await ask(http, "{ churnAlerts { totalCount edges { node { daysSinceLastPaid customer { name } } } } }"))
    assert found["data"]["churnAlerts"]["totalCount"] == 1
    assert found["data"]["churnAlerts"]["edges"][0]["node"]["customer"] == {"name": "东"}
    # Given to the owner: the east customer has none, so none is this user's.
    await Customer.filter(id=seen).update(owner_id=me["id"])
    await ChurnAlert.filter(customer_id=seen).update(assignee_id=me["id"])
    mine = "{ churnAlerts(filter: {assignedToMe: true}) { totalCount } }"
    assert (await ask(http, mine))["data"]["churnAlerts"]["totalCount"] == 1
    await ChurnAlert.filter(customer_id=seen).update(assignee_id=None)
    assert (await ask(http, mine))["data"]["churnAlerts"]["totalCount"] == 0


def test_the_servers_sweep_recomputes_segments_and_opens_alerts(tmp_path):
    """A live server with a one-second sweep: the demo's customers get segments without anyone asking."""
    import os
    import re
    import subprocess
    import time

    import httpx

    from tests.browser import KEHU, live_server

    env = {**os.environ, "KEHU_DATABASE_URL": f"sqlite://{tmp_path / 't.sqlite3'}", "KEHU_SECRET_KEY": "s" * 40,
           "KEHU_SWEEP_SECONDS": "1"}
    assert subprocess.run([KEHU, "migrate"], env=env, capture_output=True, timeout=120).returncode == 0
    seeded = subprocess.run([KEHU, "seed-demo", "--count", "30"], env=env, capture_output=True, text=True, timeout=120)
    token = re.search(r"Bearer (kehu_[A-Za-z0-9_-]+)", seeded.stdout).group(1)
    with live_server(tmp_path, env=env, migrate=False) as server:
        query = "{ customers(first: 30) { edges { node { segment { tier } } } } churnAlerts(filter: {status: null}) { totalCount } }"
        for _ in range(100):
            answer = httpx.post(server.url("/graphql"), json={"query": query}, headers={"authorization": f"Bearer {token}"},
                                timeout=10).json()
            if all(edge["node"]["segment"] for edge in answer["data"]["customers"]["edges"]):
                break
            time.sleep(0.2)
        assert all(edge["node"]["segment"] for edge in answer["data"]["customers"]["edges"]), server.log()
        assert "recomputed the segments of 30 customers" in server.log()
