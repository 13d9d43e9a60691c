"""My day in a real browser, every other host blocked: a salesperson signs in, completes a VIP's
follow-up with an outcome in place, and the customer's page then shows the interaction with that
outcome and the next follow-up, 30 days out."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

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



@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    require_browser()
    require_vendor("htmx")
    with live_server(tmp_path_factory.mktemp("today"), env={"KEHU_SECRET_KEY": "k" * 40}) as live:
        create_admin(live, PASSWORD)
        yield live


@pytest.fixture(scope="module")
def salesperson(server) -> str:
    """A salesperson (OWN scope) and their token."""
    admin = server.graphql(LOGIN, variables={"e": "admin@example.com", "p": PASSWORD})["login"]["token"]
    role = server.graphql("""mutation { createRole(input: {name: "Sales", dataScope: OWN,
      permissions: ["customer.read", "customer.create", "customer.pii", "interaction.create"]}) { role { id } errors { message } } }""", admin)
    role_id = role["createRole"]["role"]["id"]
    server.graphql("""mutation($r: ID!, $p: String!) { createUser(input: {email: "sales@example.com", displayName: "Li Na",
      password: $p, roleIds: [$r]}) { user { id } errors { message } } }""", admin, {"r": role_id, "p": PASSWORD})
    return server.graphql(LOGIN, variables={"e": "sales@example.com", "p": PASSWORD})["login"]["token"]


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as browser:
        yield browser


def test_a_vip_follow_up_is_done_on_my_day_and_shows_on_the_customer_page(server, salesperson, browser):
    from playwright.sync_api import expect

    customer = server.graphql('mutation { createCustomer(input: {name: "Zhou Jie"}) { customer { id } } }', salesperson)
    customer_id = customer["createCustomer"]["customer"]["id"]
    today = datetime.now(UTC).date()
    scheduled = server.graphql("""mutation($c: ID!, $d: Date!) { scheduleFollowUp(input: {customerId: $c, dueOn: $d,
      purpose: "Quarterly call"}) { followUp { id } errors { message } } }""", salesperson, {"c": customer_id, "d": str(today)})
    assert scheduled["scheduleFollowUp"]["errors"] == []
    database = server.env["KEHU_DATABASE_URL"].removeprefix("sqlite://")
    with sqlite3.connect(database) as db:  # the segment sweep would say VIP after a year of big orders
        pk = db.execute("SELECT id FROM customer WHERE name = 'Zhou Jie'").fetchone()[0]
        db.execute(
            "INSERT INTO customer_segment (customer_id, recency_days, frequency, monetary, paid_orders, touches, r, f, m, tier,"
            " stage, computed_at) VALUES (?, 3, 8, '20000', 8, 2, 5, 5, 5, 'vip', 'loyal', ?)", (pk, datetime.now(UTC).isoformat()),
        )
    following = (today + timedelta(days=30)).isoformat()

    with new_page(browser, 1400, 900) as page:
        other_hosts = block_other_hosts(page)
        violations = record_csp_violations(page)
        page.goto(server.url("/admin/login"))
        page.get_by_label("Email").fill("sales@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(server.url("/admin/"))
        page.get_by_role("navigation").get_by_role("link", name="My day").click()
        page.wait_for_url(server.url("/admin/today"))
        page.evaluate("window.__stayed = true")  # gone if the page reloads

        row = page.locator("tr[data-follow-up]", has_text="Quarterly call")
        expect(row).to_contain_text("Zhou Jie")
        row.get_by_label("Outcome").fill("Will order the new tea set next week")
        row.locator('button[data-action="done"]').click()
        expect(page.locator("tr.settled")).to_contain_text(f"The next follow-up is due on {following}.")
        assert page.evaluate("window.__stayed") is True  # swapped in place

        page.locator("tr.settled").get_by_role("link", name="Zhou Jie").click()
        page.wait_for_url(server.url(f"/admin/customers/{pk}"))
        expect(page.locator("body")).to_contain_text("Will order the new tea set next week")
        expect(page.locator(".outcome")).to_have_text("Will order the new tea set next week")
        follow_ups = page.locator("#follow-ups")
        expect(follow_ups).to_contain_text(f"{following} · Open · Quarterly call")
        expect(follow_ups).to_contain_text("Done · Quarterly call · Will order the new tea set next week")
        expect(page.locator("#segment [data-tier]")).to_have_text("VIP")
        assert other_hosts == [] and violations == []
