"""GraphiQL in a real browser, with the internet cut off: the vendored copies must do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser import (
    LiveServer,
    block_other_hosts,
    chromium,
    live_server,
    new_page,
    record_csp_violations,
    require_browser,
    require_vendor,
)

QUERY = "{ __typename }"
ACCEPT = "application/graphql-response+json, application/json"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    require_browser()
    require_vendor("graphiql.js", "graphiql.css", "react", "react-dom")
    with live_server(tmp_path_factory.mktemp("graphiql")) as live:
        yield live


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    with new_page(browser) as page:
        yield page


def test_graphiql_page_loads_only_from_kehu_under_a_strict_policy(server, page):
    # Given a browser that can reach nothing but the kehu server
    other_hosts = block_other_hosts(page)
    violations = record_csp_violations(page)

    # When it opens /graphql (goto returns once every script and stylesheet has loaded or failed)
    response = page.goto(server.url("/graphql"))

    # Then all of them came from kehu, GraphiQL draws its editor, and nothing broke the policy
    assert other_hosts == [], f"the page tried to leave 127.0.0.1: {other_hosts}"
    page.locator(".graphiql-query-editor .CodeMirror").wait_for()
    assert violations == []
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


def test_graphiql_runs_a_typed_query(server, page):
    from playwright.sync_api import expect

    # Given GraphiQL, offline
    other_hosts = block_other_hosts(page)
    violations = record_csp_violations(page)
    posts = []
    page.on("request", lambda request: request.method == "POST" and posts.append(request))
    page.goto(server.url("/graphql"))

    # When a query is typed into the editor and run with Ctrl+Enter
    page.locator(".graphiql-query-editor .CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(QUERY)
    page.keyboard.press("Control+Enter")

    # Then the answer shows, fetched with the GraphQL-over-HTTP media types
    expect(page.locator(".graphiql-response")).to_contain_text('"__typename": "Query"')
    run = [post for post in posts if QUERY in (post.post_data or "")]
    assert run and run[-1].headers["accept"] == ACCEPT
    assert other_hosts == [] and violations == []
