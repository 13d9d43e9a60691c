"""When the database is away: 503 with Retry-After and code UNAVAILABLE, never a 500 or driver text."""

from __future__ import annotations

import httpx
import pytest

from tests.browser import free_port, live_server


@pytest.fixture(scope="module")
def server_without_database(tmp_path_factory):
    dead = f"postgres://postgres@127.0.0.1:{free_port()}/kehu"  # nothing listens there
    with live_server(tmp_path_factory.mktemp("down"), {"KEHU_DATABASE_URL": dead}, migrate=False) as server:
        yield server


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"authorization": "Bearer kehu_" + "x" * 43}, {"query": "{ customers { totalCount } }"}),
        ({}, {"query": 'mutation { login(input: {email: "a@example.com", password: "x"}) { token errors { code } } }'}),
    ],
    ids=["signed-in query", "login"],
)
def test_graphql_answers_503_while_the_database_is_down(server_without_database, headers, body):
    response = httpx.post(server_without_database.url("/graphql"), json=body, headers=headers, timeout=10)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "errors": [{"message": "The database is unavailable; retry shortly.", "extensions": {"code": "UNAVAILABLE"}}]
    }
    assert "Connect call failed" not in response.text and "Traceback" not in server_without_database.log()


def test_health_says_alive_and_readiness_says_not_ready(server_without_database):
    assert httpx.get(server_without_database.url("/healthz")).status_code == 200
    ready = httpx.get(server_without_database.url("/readyz"))
    assert ready.status_code == 503 and ready.headers["retry-after"]
