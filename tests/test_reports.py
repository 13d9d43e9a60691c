"""CSV exports: a saved segment's customers and the loyalty ledger, streamed, under the caller's
scope, masked without customer.pii, audited, refused without customer.export; spreadsheet
formulas defused."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from models import reports
from models.audit import AuditEvent
from models.customer_filter import CustomerFilter
from models.customers import Customer, create_customer
from models.loyalty import PointsEntry
from models.orders import record_order
from models.saved_segments import save_segment
from models.scope import Scope
from models.staff import create_team
from tests.test_admin import signed_in

SYSTEM = Scope.of_system()


async def _customer(name: str, team: int, phone: str) -> int:
    made = await create_customer(SYSTEM, {"name": name, "phone": phone, "tags": ["茶"]})
    await Customer.filter(id=made["id"]).update(team_id=team)
    await record_order(SYSTEM, made["id"], {"amount": Decimal("120"), "currency": "CNY", "status": "paid"})
    return made["id"]


def _table(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


async def test_a_segment_exports_its_visible_customers_masked_and_audited(browser):
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    for n in range(3):
        await _customer(f"东{n}", east, f"+861380000{n:04d}")
    await _customer('=HYPERLINK("http://evil")', east, "+8613800009999")
    await _customer("西", west, "+8613900000000")
    http, _ = await signed_in(browser, ["customer.read", "customer.export"], email="east@example.com", scope="TEAM", team_id=east)
    me = await Scope.for_viewer(await _viewer("east@example.com"))
    segment = await save_segment(me, "茶客", CustomerFilter(tags=["茶"]), False)
    answer = await http.get(f"/admin/reports/segments/{segment['id']}.csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = _table(answer.text)
    assert [row["name"] for row in rows] == ["东0", "东1", "东2", "'=HYPERLINK(\"http://evil\")"]
    assert rows[0]["phone"] == "'+86138****0000"  # masked (no customer.pii), and quoted: a leading + is a formula
    assert {row["team_id"] for row in rows} == {str(east)}
    event = await AuditEvent.get(action="report.export")
    assert (event.entity_type, event.entity_id, event.actor_user_id) == ("saved_segment", segment["id"], me.viewer.user_id)
    customers_page = (await http.get(f"/admin/customers?segment={segment['id']}")).text
    assert f"/admin/reports/segments/{segment['id']}.csv" in customers_page


async def test_exports_need_customer_export_and_a_segment_one_may_read(browser):
    east = (await create_team(SYSTEM, "East"))["id"]
    http, _ = await signed_in(browser, ["customer.read"], email="reader@example.com", scope="TEAM", team_id=east)
    assert (await http.get("/admin/reports/ledger.csv")).status_code == 403
    exporter, _ = await signed_in(browser, ["customer.read", "customer.export"], email="x@example.com", scope="TEAM", team_id=east)
    other = await Scope.for_viewer(await _viewer("reader@example.com"))
    private = await save_segment(other, "私人", CustomerFilter(), False)
    assert (await exporter.get(f"/admin/reports/segments/{private['id']}.csv")).status_code == 404
    assert (await exporter.get("/admin/reports/ledger.csv?from=2026-13-01")).status_code == 400
    assert (await exporter.get("/admin/reports/ledger.csv?from=2026-05-02&to=2026-05-01")).status_code == 400
    assert (await exporter.get("/admin/reports/ledger.csv?to=9999-12-31")).status_code == 400
    assert not await AuditEvent.filter(action="report.export").exists()


async def test_the_ledger_exports_in_chunks_the_visible_customers_entries(browser, monkeypatch):
    monkeypatch.setattr(reports, "CHUNK", 2)  # three chunks for five entries
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    mine = [await _customer(f"东{n}", east, f"+861380000{n:04d}") for n in range(5)]
    await _customer("西", west, "+8613900000000")
    http, _ = await signed_in(browser, ["customer.read", "customer.export"], email="east@example.com", scope="TEAM", team_id=east)
    rows = _table((await http.get("/admin/reports/ledger.csv")).text)
    assert [int(row["customer_id"]) for row in rows] == mine
    assert {row["kind"] for row in rows} == {"earn"} and {row["points"] for row in rows} == {"120"}
    assert len(rows) == await PointsEntry.filter(customer_id__in=mine).count()
    assert _table((await http.get("/admin/reports/ledger.csv?from=2000-01-01&to=2000-12-31")).text) == []


async def test_an_empty_ledger_exports_nothing_and_cells_that_look_like_formulas_are_text(clean_db):
    seen = []
    export = await reports.ledger_export(SYSTEM)
    async for row in export.rows:
        seen.append(row)
    assert seen == []
    assert reports.cell("-12.5") == "-12.5" and reports.cell("-cmd") == "'-cmd" and reports.cell("@x") == "'@x"


async def _viewer(email: str):
    from models.access import User, viewer_of

    return await viewer_of(await User.get(email=email))
