"""The dashboard's panels in the admin: each one's figures for the window and team asked, under
the signed-in user's scope; panels that need complaint.read refused without it; bad windows and
unknown panels answered with 400 and 404, never 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from models.customers import Customer, create_customer
from models.orders import record_order
from models.scope import Scope
from models.segments import CustomerSegment
from models.staff import create_team
from tests.test_admin import signed_in

SYSTEM = Scope.of_system()


async def _customer(name: str, team: int, amount: str, tier: str, referrer: int | None = None) -> int:
    made = await create_customer(SYSTEM, {"name": name}, referrer_id=referrer)
    await Customer.filter(id=made["id"]).update(team_id=team)
    await record_order(SYSTEM, made["id"], {"amount": Decimal(amount), "currency": "CNY", "status": "paid",
                                            "placed_at": datetime.now(UTC) - timedelta(days=3)})
    await CustomerSegment.create(customer_id=made["id"], frequency=1, monetary=Decimal(amount), paid_orders=1, touches=0,
                                 tier=tier, stage="new", computed_at=datetime.now(UTC))
    return made["id"]


async def test_the_home_page_shows_the_picker_and_the_panels_each_for_the_users_scope(browser):
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    await _customer("东一", east, "100", "vip")
    await _customer("西一", west, "900", "vip")
    http, _ = await signed_in(browser, ["customer.read"], email="east@example.com", scope="TEAM", team_id=east)
    home = (await http.get("/admin/")).text
    assert 'id="dashboard"' in home and 'hx-get="/admin/dashboard/sales?' in home and "/static/dashboard.js" in home
    assert "dashboard/satisfaction" not in home and "dashboard/service" not in home  # no complaint.read
    assert '<option value="%d"' % east in home and "West" not in home  # the picker offers teams within reach
    sales = (await http.get("/admin/dashboard/sales")).text
    assert 'data-kpi="revenue">100.00 CNY' in sales and 'data-kpi="orders">1<' in sales
    tiers = await http.get("/admin/dashboard/tiers")
    assert 'data-value="1"' in tiers.text and "西一" not in tiers.text
    assert (await http.get("/admin/dashboard/satisfaction")).status_code == 403
    assert (await http.get(f"/admin/dashboard/sales?team={west}")).status_code == 404
    assert (await http.get("/admin/dashboard/nothing")).status_code == 404
    for bad in ("from=2026-13-01", "from=2026-05-01&to=2026-01-01", "team=abc", "from=1990-01-01&to=2026-01-01",
                "to=9999-12-31", "from=0001-01-01&to=0001-01-31"):
        assert (await http.get(f"/admin/dashboard/growth?{bad}")).status_code == 400, bad
    for bad in ("from=2026-05-01&to=2026-01-01", "to=9999-12-31"):
        shown = await http.get(f"/admin/?{bad}")
        panels = shown.text[shown.text.index('id="panels"'):]
        assert shown.status_code == 200 and 'role="alert"' in panels  # said where the picker reloads


async def test_an_all_viewer_sees_every_team_or_one(browser):
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    referrer = await _customer("东一", east, "100", "vip")
    await _customer("西一", west, "900", "active", referrer)
    http, _ = await signed_in(browser, ["customer.read", "complaint.read"])
    assert 'data-kpi="revenue">1,000.00 CNY' in (await http.get("/admin/dashboard/sales")).text
    assert 'data-kpi="revenue">900.00 CNY' in (await http.get(f"/admin/dashboard/sales?team={west}")).text
    service = (await http.get("/admin/dashboard/service")).text
    assert "figure" in service and 'data-kpi="median">—' in service
    referrers = (await http.get("/admin/dashboard/referrers")).text
    assert f'<a href="/admin/customers/{referrer}">东一</a>' in referrers and "900.00" in referrers
    # East's own figures: 西一 of West paid that, so East's referrer has nothing to show.
    east_only = (await http.get(f"/admin/dashboard/referrers?team={east}")).text
    assert "/admin/customers/" not in east_only
