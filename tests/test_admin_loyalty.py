"""A customer's loyalty on the admin's customer page: balance, level, ledger and level history;
points redeemed and adjusted in place with the CSRF token, refused whole when wrong, and
nothing of a customer out of scope."""

from __future__ import annotations

from decimal import Decimal

from models import loyalty
from models.customers import Customer, create_customer
from models.loyalty import PointsEntry
from models.orders import record_order
from models.scope import Scope
from models.staff import create_team
from tests.test_admin import signed_in

SYSTEM = Scope.of_system()
DESK = ["customer.read", "loyalty.redeem", "loyalty.adjust"]


async def _customer(name: str, team: int) -> int:
    made = await create_customer(SYSTEM, {"name": name})
    await Customer.filter(id=made["id"]).update(team_id=team)
    await record_order(SYSTEM, made["id"], {"amount": Decimal("120"), "currency": "CNY", "status": "paid"})
    return made["id"]


def _section(html: str) -> str:
    start = html.index('<section id="loyalty">')
    return html[start:html.index("</section>", start)]


async def _desk(browser, permissions=DESK):
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    http, csrf = await signed_in(browser, permissions, email="desk@example.com", scope="TEAM", team_id=east)
    return http, csrf, await _customer("张伟", east), await _customer("王芳", west)


async def test_the_customer_page_shows_loyalty_and_points_are_redeemed_in_place(browser):
    http, csrf, mine, hidden = await _desk(browser)
    await loyalty.adjust_points(SYSTEM, mine, 30, "生日礼")
    page = _section((await http.get(f"/admin/customers/{mine}")).text)
    assert 'data-balance="150"' in page and 'data-level="member"' in page and "生日礼" in page and "+120" in page
    hx = {"hx-request": "true", "x-csrf-token": csrf}
    redeemed = await http.post(f"/admin/customers/{mine}/points/redeem", data={"points": "100", "reason": "兑换水杯"}, headers=hx)
    assert redeemed.status_code == 200 and 'data-balance="50"' in redeemed.text and "兑换水杯" in redeemed.text
    assert redeemed.text.startswith('<section id="loyalty">')  # the section alone, swapped in place
    over = await http.post(f"/admin/customers/{mine}/points/redeem", data={"points": "51", "reason": "x"}, headers=hx)
    assert over.status_code == 400 and 'role="alert"' in over.text and 'data-balance="50"' in over.text
    for action, bad in (("redeem", {"points": "abc", "reason": "x"}), ("redeem", {"points": "-5", "reason": "x"}),
                        ("adjust", {"points": "--5", "reason": "x"}), ("adjust", {"points": "²", "reason": "x"}),
                        ("adjust", {"points": "0", "reason": "x"}), ("adjust", {"points": "5", "reason": " "})):
        assert (await http.post(f"/admin/customers/{mine}/points/{action}", data=bad, headers=hx)).status_code == 400
    assert (await http.post(f"/admin/customers/{mine}/points/steal", data={"points": "5"}, headers=hx)).status_code in (404, 405)
    adjusted = await http.post(f"/admin/customers/{mine}/points/adjust", data={"points": "-50", "reason": "更正"}, headers=hx)
    assert 'data-balance="0"' in adjusted.text
    assert [e.points for e in await PointsEntry.filter(customer_id=mine).order_by("id")] == [120, 30, -100, -50]


async def test_points_need_the_csrf_token_the_permission_and_a_customer_in_scope(browser):
    http, csrf, mine, hidden = await _desk(browser, ["customer.read"])
    page = _section((await http.get(f"/admin/customers/{mine}")).text)
    assert "<form" not in page  # no loyalty.redeem nor loyalty.adjust: no form
    data = {"points": "10", "reason": "x"}
    assert (await http.post(f"/admin/customers/{mine}/points/redeem", data=data)).status_code == 403  # no CSRF token
    refused = await http.post(f"/admin/customers/{mine}/points/redeem", data=data, headers={"x-csrf-token": csrf})
    assert refused.status_code == 403
    assert (await http.get(f"/admin/customers/{hidden}")).status_code == 404
    assert await PointsEntry.filter(kind="redeem").count() == 0


async def test_a_customer_out_of_scope_is_not_found(browser):
    http, csrf, mine, hidden = await _desk(browser)
    answer = await http.post(f"/admin/customers/{hidden}/points/redeem", data={"points": "10", "reason": "x"},
                             headers={"x-csrf-token": csrf})
    assert answer.status_code == 404 and "王芳" not in answer.text
    assert await PointsEntry.filter(customer_id=hidden).count() == 1
