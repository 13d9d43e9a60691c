"""The dashboard in a real browser, every other host blocked: the admin's home page draws its
charts with the local ECharts from the tables beside them, with no CSP violation, and the team
picker reloads the panels in place. A screenshot is saved under var/screenshots/."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from server.settings import ROOT
from tests.browser import (
    LiveServer,
    block_other_hosts,
    chromium,
    create_admin,
    live_server,
    new_page,
    record_csp_violations,
    require_browser,
    require_vendor,
)

PASSWORD = "browser test passphrase"
LOGIN = 'mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token } }'
SCREENSHOT = ROOT / "var" / "screenshots" / "dashboard.png"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    require_browser()
    require_vendor("htmx", "echarts")
    with live_server(tmp_path_factory.mktemp("dashboard"), env={"KEHU_SECRET_KEY": "k" * 40}) as live:
        create_admin(live, PASSWORD)
        yield live


@pytest.fixture(scope="module")
def base(server) -> dict[str, str]:
    """Two teams' customers with paid orders over the last months, and their segments."""
    admin = server.graphql(LOGIN, variables={"e": "admin@example.com", "p": PASSWORD})["login"]["token"]
    teams = {}
    for name in ("East", "West"):
        teams[name] = server.graphql('mutation($n: String!) { createTeam(input: {name: $n}) { team { id } } }', admin, {"n": name})[
            "createTeam"]["team"]["id"]
    now = datetime.now(UTC)
    tiers = ("vip", "active", "potential", "dormant")
    for i in range(12):
        made = server.graphql('mutation($n: String!) { createCustomer(input: {name: $n}) { customer { id } } }', admin,
                              {"n": f"客户{i}"})["createCustomer"]["customer"]["id"]
        paid = (now - timedelta(days=25 * (i % 6) + 1)).isoformat()
        server.graphql("""mutation($c: ID!, $a: Decimal!, $p: DateTime!) { recordOrder(input: {customerId: $c, amount: $a,
          currency: "CNY", status: PAID, placedAt: $p}) { errors { message } } }""", admin, {"c": made, "a": f"{100 + 37 * i}.00", "p": paid})
    database = server.env["KEHU_DATABASE_URL"].removeprefix("sqlite://")
    with sqlite3.connect(database) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM customer ORDER BY id")]
        team_ids = [row[0] for row in db.execute("SELECT id FROM team ORDER BY name")]
        for n, pk in enumerate(ids):
            db.execute("UPDATE customer SET team_id = ? WHERE id = ?", (team_ids[n % 2], pk))
            db.execute(
                "INSERT INTO customer_segment (customer_id, recency_days, frequency, monetary, paid_orders, touches, r, f, m, tier,"
                " stage, computed_at) VALUES (?, 3, 1, '100', 1, 0, 3, 3, 3, ?, ?, ?)",
                (pk, tiers[n % 4], ("new", "active", "loyal")[n % 3], now.isoformat()),
            )
    return teams


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as browser:
        yield browser


def test_the_dashboard_draws_its_charts_locally_and_the_team_picker_reloads_them(server, base, browser):
    from playwright.sync_api import expect

    with new_page(browser, 1400, 1600) as page:
        other_hosts = block_other_hosts(page)
        violations = record_csp_violations(page)
        page.goto(server.url("/admin/login"))
        page.get_by_label("Email").fill("admin@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(server.url("/admin/"))
        charts = page.locator("figure[data-chart][data-drawn=true]")
        expect(charts).to_have_count(5)  # growth, tiers, funnel, satisfaction, SLA compliance
        for kind in ("growth", "pie", "funnel", "trend", "gauge"):
            expect(page.locator(f"figure[data-chart={kind}] .chart svg")).to_have_count(1)
        expect(page.locator("[data-kpi=orders]")).to_have_text("12")
        tiers = page.locator("figure[data-chart=pie] table")
        expect(tiers).to_contain_text("VIP")
        page.evaluate("window.__stayed = true")  # gone if the page reloads

        page.get_by_label("Team").select_option(label="East")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("[data-kpi=orders]")).to_have_text("6")
        expect(page.locator("figure[data-chart][data-drawn=true]")).to_have_count(5)
        assert page.evaluate("window.__stayed") is True
        assert "team=" in page.url
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        assert other_hosts == [] and violations == []
    assert SCREENSHOT.stat().st_size > 10_000
