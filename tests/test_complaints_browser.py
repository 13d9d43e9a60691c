"""Complaints in a real browser, every other host blocked: a complaint filed through the API appears
in the open queue without a reload, is worked to CLOSED with clicks, and the customer answers the
survey on a phone-sized page; the CSAT then shows on the complaint."""

from __future__ import annotations

from collections.abc import Iterator

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
FILE = """mutation($c: ID!) { fileComplaint(input: {customerId: $c, subject: "The cup arrived broken",
  description: "Shards in the box", channel: WECHAT, category: "delivery", priority: HIGH}) { complaint { id reference } errors { code } } }"""



@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    require_browser()
    require_vendor("htmx", "htmx-sse")
    with live_server(tmp_path_factory.mktemp("complaints"), env={"KEHU_SECRET_KEY": "k" * 40}) as live:
        create_admin(live, PASSWORD)
        yield live


@pytest.fixture(scope="module")
def token(server) -> str:
    login = 'mutation($p: String!) { login(input: {email: "admin@example.com", password: $p}) { token } }'
    return server.graphql(login, variables={"p": PASSWORD})["login"]["token"]


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as browser:
        yield browser


def _sign_in(page, server: LiveServer) -> None:
    page.goto(server.url("/admin/login"))
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url("/admin/"))


def test_a_complaint_is_filed_worked_closed_and_rated(server, token, browser):
    from playwright.sync_api import expect

    customer = server.graphql('mutation { createCustomer(input: {name: "Wang Fang"}) { customer { id } } }', token)
    customer_id = customer["createCustomer"]["customer"]["id"]
    with new_page(browser, 1400, 900) as page:
        other_hosts = block_other_hosts(page)
        violations = record_csp_violations(page)
        _sign_in(page, server)
        with page.expect_response(lambda response: "/admin/complaints/rows" in response.url):
            page.goto(server.url("/admin/complaints"))  # the rows are read again once the stream listens
        expect(page.locator("#queue")).to_contain_text("No complaints match.")
        page.evaluate("window.__stayed = true")  # gone if the page reloads

        filed = server.graphql(FILE, token, {"c": customer_id})["fileComplaint"]["complaint"]
        row = page.locator(f'tr[data-reference="{filed["reference"]}"]')
        row.wait_for(timeout=15_000)  # pushed by the server, no reload
        assert page.evaluate("window.__stayed") is True
        expect(row).to_contain_text("Wang Fang")
        expect(row).to_contain_text("left")

        row.get_by_role("link", name=filed["reference"]).click()
        page.wait_for_url(server.url("/admin/complaints/*"))
        for move in ("acknowledged", "in_progress"):
            page.locator(f'button[data-move="{move}"]').click()
            page.locator(f'button[data-move="{move}"]').wait_for(state="detached")
        page.get_by_label("Resolution note").fill("Sent a new cup by express")
        page.locator('button[data-move="resolved"]').click()
        page.locator('button[data-move="closed"]').click()
        survey = page.locator("#survey-url")
        survey.wait_for()
        expect(page.locator(".facts .status")).to_have_text("Closed")
        survey_url = survey.inner_text()
        assert survey_url.startswith(server.url("/s/"))
        assert other_hosts == [] and violations == []

    with new_page(browser, 390, 844) as phone:  # the customer's phone
        other_hosts = block_other_hosts(phone)
        violations = record_csp_violations(phone)
        phone.goto(survey_url)
        expect(phone.locator("h1")).to_have_text("How did we do?")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
        phone.locator("fieldset").first.get_by_text("4", exact=True).click()
        phone.get_by_label("Anything else you would like to tell us? (optional)").fill("Quick, thank you")
        phone.get_by_role("button", name="Send").click()
        expect(phone.locator("h1")).to_have_text("Thank you")
        phone.goto(survey_url)
        expect(phone.locator("h1")).to_have_text("Already answered")
        assert other_hosts == [] and violations == []

    with new_page(browser, 1400, 900) as page:
        _sign_in(page, server)
        answered = server.graphql('query($id: ID!) { complaint(id: $id) { survey { csat comment } } }', token, {"id": filed["id"]})
        assert answered["complaint"]["survey"] == {"csat": 4, "comment": "Quick, thank you"}
        page.goto(server.url("/admin/complaints?status=closed"))
        page.locator(f'tr[data-reference="{filed["reference"]}"]').get_by_role("link").click()
        expect(page.locator("#csat")).to_contain_text("4 / 5")


def test_graphiql_subscribes_to_complaints_as_they_change(server, token, browser):
    from playwright.sync_api import expect

    require_vendor("graphiql.js", "graphiql.css", "react", "react-dom")
    customer = server.graphql('mutation { createCustomer(input: {name: "Li Na"}) { customer { id } } }', token)
    with new_page(browser, 1400, 900) as page:
        other_hosts = block_other_hosts(page)
        violations = record_csp_violations(page)
        page.goto(server.url(f"/graphql#token={token}"))
        editor = page.locator(".graphiql-query-editor .CodeMirror")
        editor.wait_for()
        page.evaluate("document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue("
                      "'subscription Queue { complaintsChanged { reference status } }')")
        received: list[str] = []  # collected from the socket's birth: the ack can beat any later wait
        page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: received.append(str(frame))))
        editor.click()
        page.keyboard.press("Control+Enter")
        for _ in range(100):
            if any("connection_ack" in frame for frame in received):
                break
            page.wait_for_timeout(100)
        else:
            pytest.fail(f"GraphiQL's socket was never acknowledged: {received}")
        # The subscription listens a moment after the ack, and graphql-transport-ws does not say
        # when; a change made before then is rightly never sent, so file until one arrives.
        response = page.locator(".graphiql-response")
        for _ in range(5):
            filed = server.graphql(FILE, token, {"c": customer["createCustomer"]["customer"]["id"]})["fileComplaint"]["complaint"]
            try:
                expect(response).to_contain_text(filed["reference"], timeout=3_000)
                break
            except AssertionError:
                continue
        else:
            pytest.fail(f"no complaint reached GraphiQL's subscription: {received}")
        expect(page.locator(".graphiql-response")).to_contain_text('"status": "NEW"')
        assert other_hosts == [] and violations == []
