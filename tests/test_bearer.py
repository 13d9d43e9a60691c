"""A token read in the last few seconds is remembered (PostgreSQL), and still checked on every
request: a revoked or expired token, a deactivated user, a role or team changed by another
worker (here: by SQL behind the server's back) is seen by the very next request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models import db
from models.access import ApiToken, Role, User
from models.customers import Customer, create_customer
from models.scope import Scope
from models.staff import create_team
from tests.conftest import bearer_for_user, staff_member

SYSTEM = Scope.of_system()
PAGE = "{ customers(first: 5) { edges { node { name phone } } } }"  # compiled
ME = "{ me { id } }"  # the executor's
UNAUTHENTICATED = {"errors": [{"message": "The bearer token is unknown, revoked or expired.", "extensions": {"code": "UNAUTHENTICATED"}}]}


@pytest.fixture
async def seller(clean_db, as_user):
    if db.dialect() != "postgres":
        pytest.skip("tokens are remembered on PostgreSQL only; SQLite reads them on every request")
    team = (await create_team(SYSTEM, "East"))["id"]
    user = await staff_member("seller@example.com", ["customer.read", "customer.pii"], "TEAM", team)
    made = await create_customer(SYSTEM, {"name": "张伟", "phone": "+8613800001234"})
    await Customer.filter(id=made["id"]).update(team_id=team)
    headers = await bearer_for_user(user["id"])
    http = as_user(headers)
    first = (await http.post("/graphql", json={"query": PAGE})).json()["data"]
    assert first == {"customers": {"edges": [{"node": {"name": "张伟", "phone": "+8613800001234"}}]}}
    token = await ApiToken.get(user_id=user["id"])
    return http, user, token


async def _behind_the_back(sql: str, *params) -> None:
    """A change made by another worker: straight to the database."""
    await db.connection().execute_query(sql, list(params))


async def test_a_remembered_token_costs_no_statement_of_its_own(seller, count_statements):
    http, _, _ = seller
    count_statements.statements.clear()
    answer = (await http.post("/graphql", json={"query": PAGE})).json()
    assert answer["data"]["customers"]["edges"][0]["node"]["name"] == "张伟"
    assert len(count_statements.statements) == 1  # the page and the token's check, together
    assert "api_token" in count_statements.statements[0] and " AS data" in count_statements.statements[0]


@pytest.mark.parametrize("query", [PAGE, ME, "{ nothing }"])
async def test_a_token_revoked_elsewhere_fails_on_the_next_request(seller, query):
    http, _, token = seller
    await _behind_the_back("UPDATE api_token SET revoked_at = now() WHERE id = $1", token.id)
    response = await http.post("/graphql", json={"query": query})
    assert response.status_code == 401 and response.json() == UNAUTHENTICATED


@pytest.mark.parametrize(
    ("request_kwargs", "method"),
    [
        ({"json": {"query": "query A { me { id } } query B { me { id } }"}}, "POST"),
        ({"json": {"query": "{ me { id } }", "operationName": "Nope"}}, "POST"),
        ({"json": {"query": "subscription { me { id } }"}}, "POST"),
        ({"params": {"query": 'mutation { createCustomer(input: {name: "李娜"}) { customer { id } } }'}}, "GET"),
    ],
    ids=["two-operations-unnamed", "unknown-operation", "subscription", "mutation-over-get"],
)
async def test_a_refused_request_with_a_revoked_token_is_a_401(seller, request_kwargs, method):
    http, _, token = seller
    await _behind_the_back("UPDATE api_token SET revoked_at = now() WHERE id = $1", token.id)
    response = await http.request(method, "/graphql", **request_kwargs)
    assert response.status_code == 401 and response.json() == UNAUTHENTICATED


async def test_a_mutation_with_a_revoked_token_changes_nothing(seller):
    http, _, token = seller
    await _behind_the_back("UPDATE api_token SET revoked_at = now() WHERE id = $1", token.id)
    response = await http.post("/graphql", json={
        "query": 'mutation { createCustomer(input: {name: "李娜"}) { customer { id } errors { message } } }'})
    assert response.status_code == 401
    assert await db.connection().execute_query_dict("SELECT name FROM customer ORDER BY id") == [{"name": "张伟"}]


@pytest.mark.parametrize("query", [PAGE, ME])
async def test_an_expired_token_or_deactivated_user_fails_on_the_next_request(seller, query):
    http, user, token = seller
    await ApiToken.filter(id=token.id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await http.post("/graphql", json={"query": query})).status_code == 401
    await ApiToken.filter(id=token.id).update(expires_at=None)
    assert (await http.post("/graphql", json={"query": query})).status_code == 200
    await User.filter(id=user["id"]).update(is_active=False)
    assert (await http.post("/graphql", json={"query": query})).status_code == 401


async def test_changed_rights_are_read_on_the_next_request(seller):
    http, user, _ = seller
    role = await Role.get(name="role of seller@example.com")
    await _behind_the_back("UPDATE role SET permissions = $1 WHERE id = $2", '["customer.read"]', role.id)
    answer = (await http.post("/graphql", json={"query": PAGE})).json()["data"]
    assert answer == {"customers": {"edges": [{"node": {"name": "张伟", "phone": "+86138****1234"}}]}}
    # Moved to another team: its customers are no longer in reach.
    other = (await create_team(SYSTEM, "West"))["id"]
    await User.filter(id=user["id"]).update(team_id=other)
    assert (await http.post("/graphql", json={"query": PAGE})).json()["data"] == {"customers": {"edges": []}}
    # The executor's path reads the new rights too.
    await _behind_the_back("UPDATE role SET permissions = '[]' WHERE id = $1", role.id)
    refused = (await http.post("/graphql", json={"query": "{ customers(last: 1) { edges { node { name } } } }"})).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
