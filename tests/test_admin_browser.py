"""The admin in a real browser, with the internet cut off: sign in, tick a permission in the
matrix, and the affected user's very next API call obeys it; a form without CSRF is refused."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
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
COUNT = "{ customers(first: 1) { totalCount } }"


def _graphql(server: LiveServer, query: str, token: str | None = None, variables: dict | None = None) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.post(server.url("/graphql"), json={"query": query, "variables": variables or {}}, headers=headers, timeout=30).json()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    require_browser()
    require_vendor("htmx")
    with live_server(tmp_path_factory.mktemp("admin")) as live:
        create_admin(live, PASSWORD)
        yield live


@pytest.fixture(scope="module")
def field_token(server) -> str:
    """A staff member whose role ("Field") starts with no permissions, and their API token."""
    admin = _graphql(server, 'mutation($p: String!) { login(input: {email: "admin@example.com", password: $p}) { token } }', variables={"p": PASSWORD})
    token = admin["data"]["login"]["token"]
    role = _graphql(server, 'mutation { createRole(input: {name: "Field", permissions: [], dataScope: ALL}) { role { id } } }', token)
    user = _graphql(
        server,
        'mutation($r: ID!, $p: String!) { createUser(input: {email: "field@example.com", displayName: "Field", password: $p, roleIds: [$r]}) { user { id } } }',
        token, {"r": role["data"]["createRole"]["role"]["id"], "p": PASSWORD},
    )
    made = _graphql(
        server, 'mutation($u: ID!) { createApiToken(input: {name: "phone", userId: $u}) { token } }',
        token, {"u": user["data"]["createUser"]["user"]["id"]},
    )
    return made["data"]["createApiToken"]["token"]


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    with new_page(browser, 1400, 900) as page:
        yield page


def _sign_in(page, server: LiveServer) -> None:
    page.goto(server.url("/admin/login"))
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url("/admin/"))


def test_a_tick_in_the_matrix_changes_what_the_user_may_do_at_once(server, field_token, page):
    other_hosts = block_other_hosts(page)
    violations = record_csp_violations(page)
    before = _graphql(server, COUNT, field_token)
    assert before["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    _sign_in(page, server)
    page.goto(server.url("/admin/roles"))
    assert page.evaluate("typeof window.htmx") == "object"  # the local copy loaded
    box = page.get_by_label("Field: customer.read")
    assert not box.is_checked()
    with page.expect_response(lambda r: r.url.endswith("/permissions/customer.read")) as answer:
        box.check()
    assert answer.value.status == 200
    page.get_by_label("Field: customer.read").wait_for()
    assert page.get_by_label("Field: customer.read").is_checked()

    after = _graphql(server, COUNT, field_token)
    assert "errors" not in after and after["data"]["customers"]["totalCount"] == 0

    with page.expect_response(lambda r: r.url.endswith("/permissions/customer.read")):
        page.get_by_label("Field: customer.read").uncheck()
    page.get_by_label("Field: customer.read").wait_for()
    assert _graphql(server, COUNT, field_token)["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert other_hosts == [], f"the page tried to leave 127.0.0.1: {other_hosts}"
    assert violations == []


def test_a_form_posted_without_the_csrf_token_is_refused(server, page):
    _sign_in(page, server)
    # The browser's own cookies, a cross-site style post without the token:
    refused = page.context.request.post(server.url("/admin/teams"), form={"name": "Forged"})
    assert refused.status == 403 and "security token" in refused.text()
    page.goto(server.url("/admin/teams"))
    assert "Forged" not in page.content()

    page.get_by_label("New team's name").fill("Real")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(server.url("/admin/teams"))
    assert page.get_by_label("Name of Real").input_value() == "Real"


def test_explore_the_api_opens_graphiql_signed_in_on_an_example_of_the_customer_graph(server, page):
    from playwright.sync_api import expect

    other_hosts = block_other_hosts(page)
    violations = record_csp_violations(page)
    posts = []
    page.on("request", lambda request: request.method == "POST" and request.url.endswith("/graphql") and posts.append(request))
    _sign_in(page, server)

    page.get_by_role("button", name="Explore the API").click()

    # The token came in the fragment and left the address at once
    page.wait_for_url(server.url("/graphql"))
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    editor.wait_for()
    assert "token" not in page.url and page.evaluate("window.location.hash") == ""
    example = page.evaluate("document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()")
    assert "customers(first: 5)" in example and "referrals(first: 3)" in example

    # and the example runs as the signed-in admin, with a token no log has seen
    editor.click()
    page.keyboard.press("Control+Enter")
    expect(page.locator(".graphiql-response")).to_contain_text('"totalCount": 0')
    sent = [post.headers.get("authorization", "") for post in posts if "customers(first: 5)" in (post.post_data or "")]
    assert sent and sent[-1].startswith("Bearer kehu_")
    assert sent[-1].removeprefix("Bearer ") not in server.log_path.read_text()
    assert other_hosts == [] and violations == []
