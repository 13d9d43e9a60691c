"""Query limits (cost, depth, aliases, tokens) and the input checks that run before resolvers.

A query over a limit is refused before anything runs: one error with a stable code, a 400
under ``application/graphql-response+json``, no ``data`` entry and no SQL. Limits other
than the defaults come from an app built with its own settings (``app_with``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import graphql
import httpx
import pytest
from gql.utilities import get_introspection_query_ast

from server.app import create_app
from server.settings import Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"

COUNT = "{ customers { totalCount } }"
TOO_COSTLY = """
{
  customers(first: 100) { edges { node {
    referrals(first: 100) { edges { node {
      interactions(first: 100) { edges { node { id } } }
    } } }
  } } }
}
"""
CREATE = 'mutation { createCustomer(input: {name: "Ada"}) { customer { id } errors { code } } }'
ORDERS = "query($id: ID!) { customer(id: $id) { orders { totalCount } } }"
RECORD_ORDER = """
mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) { order { id amount } errors { field code message } }
}
"""
GRAPHIQL_INTROSPECTION = graphql.get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)
GQL_INTROSPECTION = graphql.print_ast(get_introspection_query_ast())
LIMIT_CODES = {"QUERY_TOO_COSTLY", "QUERY_TOO_DEEP", "TOO_MANY_ALIASES"}


def referrer_chain(levels: int) -> str:
    """``customers { edges { node { referrer { … { id } } } } } }``: 4 + ``levels`` fields deep."""
    inner = "id"
    for _ in range(levels):
        inner = f"referrer {{ {inner} }}"
    return f"{{ customers(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{i}: customers(first: 1) {{ totalCount }}" for i in range(count)) + " }"


def exponential_fragments(on: str, field: str, leaf: str) -> str:
    """Fragments F0..F9: each spreads the next ten times under aliases (10^10 fields expanded)."""
    parts = []
    for level in range(10):
        if level < 9:
            body = " ".join(f"a{i}: {field} {{ ...F{level + 1} }}" for i in range(10))
        else:
            body = leaf
        parts.append(f"fragment F{level} on {on} {{ {body} }}")
    return "\n".join(parts)


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


async def post(http: httpx.AsyncClient, query: str, variables: dict | None = None, accept: str = GRAPHQL_RESPONSE) -> httpx.Response:
    return await http.post("/graphql", json={"query": query, "variables": variables or {}}, headers={"accept": accept})


def refused(response: httpx.Response, code: str) -> str:
    """The message of an operation refused before it ran, under graphql-response+json."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert "data" not in body, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, error
    assert "path" not in error
    return error["message"]


def answered(response: httpx.Response) -> dict:
    """The ``data`` of an operation that ran without errors."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


@pytest.fixture
async def app_with(clean_db: str, admin_headers) -> AsyncIterator[Callable[..., Awaitable[httpx.AsyncClient]]]:
    """Builds a client for an app whose settings are the defaults plus the given KEHU_* values."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(**env: str) -> httpx.AsyncClient:
            settings = Settings.from_env({"KEHU_DATABASE_URL": clean_db, **env})
            transport = httpx.ASGITransport(app=create_app(settings))
            http = httpx.AsyncClient(transport=transport, base_url="http://kehu.test", headers=admin_headers)
            return await stack.enter_async_context(http)

        yield make


def _beyond_sign_in(statements: list[str]) -> list[str]:
    """The statements run for the operation itself, not to resolve the bearer token."""
    return [s for s in statements if "api_token" not in s and "user_role" not in s]


async def create_customer(client: httpx.AsyncClient) -> str:
    data = answered(await post(client, CREATE))
    assert data["createCustomer"]["errors"] == []
    return data["createCustomer"]["customer"]["id"]


# --- cost -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "cost"),
    [
        (COUNT, 21),  # 1 + 20 (the default page) × totalCount
        ("{ customers(first: 5) { edges { node { id } } } }", 16),  # 1 + 5 × (edges + node + id)
        ("{ customers(first: 2) { totalCount edges { node { name referrals(first: 3) { totalCount } } } } }", 17),
        ("{ __typename }", 0),
    ],
)
async def test_a_successful_query_reports_its_cost(client, query, cost):
    response = await post(client, query)

    answered(response)
    assert response.json()["extensions"] == {"cost": {"requested": cost, "limit": 50_000}}


async def test_a_query_over_the_cost_limit_is_refused_before_execution(client, count_statements):
    await create_customer(client)
    count_statements.statements.clear()

    response = await post(client, TOO_COSTLY)

    message = refused(response, "QUERY_TOO_COSTLY")
    assert "50000" in message
    assert _beyond_sign_in(count_statements.statements) == []


async def test_a_costly_query_is_a_200_with_the_error_under_legacy_json(client):
    response = await post(client, TOO_COSTLY, accept=JSON)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(JSON)
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COSTLY"]


async def test_the_cost_limit_counts_variables_and_their_defaults(client):
    query = "query($n: Int = 100, $m: Int) { customers(first: $n) { edges { node { referrals(first: $m) { edges { node { referrals(first: $m) { totalCount } } } } } } } }"

    refused(await post(client, query, {"m": 100}), "QUERY_TOO_COSTLY")
    answered(await post(client, query, {"n": 2, "m": 2}))


async def test_the_cost_limit_is_inclusive(app_with):
    http = await app_with(KEHU_MAX_QUERY_COST="21")

    assert answered(await post(http, COUNT)) == {"customers": {"totalCount": 0}}
    refused(await post(http, "{ customers(first: 21) { totalCount } }"), "QUERY_TOO_COSTLY")


async def test_an_int_literal_too_long_for_python_is_refused_as_too_costly(client):
    response = await post(client, "{ customers(first: %s) { totalCount } }" % ("9" * 5000))

    message = refused(response, "QUERY_TOO_COSTLY")
    assert "digits" not in message and "sys." not in message


async def test_nodes_cost_grows_with_the_number_of_ids(app_with):
    http = await app_with(KEHU_MAX_QUERY_COST="10")
    ids = ", ".join(f'"{global_id("Customer", n)}"' for n in range(1, 6))

    response = await post(http, f"{{ nodes(ids: [{ids}]) {{ id }} }}")

    assert answered(response) == {"nodes": [None] * 5}
    assert response.json()["extensions"]["cost"]["requested"] == 6
    ids = ", ".join(f'"{global_id("Customer", n)}"' for n in range(1, 11))
    refused(await post(http, f"{{ nodes(ids: [{ids}]) {{ id }} }}"), "QUERY_TOO_COSTLY")


# --- depth, aliases, tokens -----------------------------------------------------------------


async def test_a_query_over_the_default_depth_is_refused(client, count_statements):
    count_statements.statements.clear()

    message = refused(await post(client, referrer_chain(10)), "QUERY_TOO_DEEP")

    assert "14" in message and "12" in message
    assert _beyond_sign_in(count_statements.statements) == []


async def test_the_depth_limit_is_inclusive_and_set_by_kehu_max_depth(app_with):
    http = await app_with(KEHU_MAX_DEPTH="5")

    assert answered(await post(http, referrer_chain(1))) == {"customers": {"edges": []}}
    refused(await post(http, referrer_chain(2)), "QUERY_TOO_DEEP")


async def test_depth_counts_through_fragments(app_with):
    http = await app_with(KEHU_MAX_DEPTH="5")
    query = "{ customers(first: 1) { ...Page } } fragment Page on CustomerConnection { edges { node { referrer { referrer { id } } } } }"

    refused(await post(http, query), "QUERY_TOO_DEEP")


async def test_more_aliases_than_the_limit_are_refused(client):
    assert answered(await post(client, aliased(30)))["a29"] == {"totalCount": 0}

    message = refused(await post(client, aliased(31)), "TOO_MANY_ALIASES")

    assert "31" in message and "30" in message


async def test_the_alias_limit_is_set_by_kehu_max_aliases(app_with):
    http = await app_with(KEHU_MAX_ALIASES="2")

    assert answered(await post(http, aliased(2))) == {"a0": {"totalCount": 0}, "a1": {"totalCount": 0}}
    refused(await post(http, aliased(3)), "TOO_MANY_ALIASES")


async def test_the_exponential_fragment_attack_is_refused_quickly(client):
    query = "query { customers(first: 1) { edges { node { ...F0 } } } }\n" + exponential_fragments("Customer", "referrer", "id")
    assert 2_000 < len(query) < 3_000

    response = await asyncio.wait_for(post(client, query), 20)

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] in LIMIT_CODES
    assert answered(await post(client, COUNT)) == {"customers": {"totalCount": 0}}  # still answering


async def test_the_exponential_fragment_attack_inside_introspection_is_refused(client):
    """Introspection is free of cost and depth, but aliases inside it count all the same."""
    query = "query { __schema { types { fields { type { ...F0 } } } } }\n" + exponential_fragments("__Type", "ofType", "name")

    response = await asyncio.wait_for(post(client, query), 20)

    refused(response, "TOO_MANY_ALIASES")


async def test_a_document_over_the_token_limit_is_refused(client):
    query = "{ " + "__typename " * 5_000 + "}"

    message = refused(await post(client, query), "GRAPHQL_PARSE_FAILED")

    assert "5000 tokens" in message


async def test_the_token_limit_is_set_by_kehu_max_tokens(app_with):
    http = await app_with(KEHU_MAX_TOKENS="100")

    assert answered(await post(http, "{ " + "__typename " * 90 + "}")) == {"__typename": "Query"}
    refused(await post(http, "{ " + "__typename " * 100 + "}"), "GRAPHQL_PARSE_FAILED")


# --- introspection --------------------------------------------------------------------------


@pytest.mark.parametrize("query", [GRAPHIQL_INTROSPECTION, GQL_INTROSPECTION], ids=["graphiql", "gql"])
async def test_client_introspection_queries_pass_the_limits(client, query):
    response = await post(client, query)

    schema = answered(response)["__schema"]
    assert schema["queryType"]["name"] == "Query"
    assert schema["mutationType"]["name"] == "Mutation"
    assert "Customer" in {t["name"] for t in schema["types"]}
    assert graphql.build_client_schema({"__schema": schema}).get_type("Customer") is not None


@pytest.mark.parametrize("query", [GRAPHIQL_INTROSPECTION, GQL_INTROSPECTION], ids=["graphiql", "gql"])
async def test_introspection_passes_even_the_tightest_limits(app_with, query):
    http = await app_with(KEHU_MAX_QUERY_COST="1", KEHU_MAX_DEPTH="2", KEHU_MAX_ALIASES="1")

    assert answered(await post(http, query))["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_off_refuses_the_schema_query(app_with):
    http = await app_with(KEHU_INTROSPECTION="false")

    response = await post(http, GRAPHIQL_INTROSPECTION)

    assert response.status_code == 400
    assert "data" not in response.json()
    assert answered(await post(http, COUNT)) == {"customers": {"totalCount": 0}}


# --- bad input to queries -------------------------------------------------------------------


async def test_first_over_100_is_bad_user_input(client):
    response = await post(client, "{ customers(first: 101) { totalCount } }")

    assert response.status_code == 200  # execution started: a field error, not a request error
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["path"] == ["customers"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}
    assert "100" in error["message"]


@pytest.mark.parametrize(
    "bad_id",
    ["nope", "", global_id("Robot", 1), global_id("Customer", 0), global_id("Customer", 2**63), "Q3VzdG9tZXI6MQ", "x" * 100],
    ids=["not-base64", "empty", "unknown-type", "zero", "over-bigint", "unpadded", "long"],
)
async def test_a_malformed_global_id_is_bad_user_input(client, bad_id):
    response = await post(client, "query($id: ID!) { node(id: $id) { id } }", {"id": bad_id})

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"node": None}
    [error] = body["errors"]
    assert error["path"] == ["node"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}
    assert error["message"] == "id is not a valid ID."


@pytest.mark.parametrize("type_name", ["Customer", "CustomerLink", "Interaction", "Order"])
async def test_a_well_formed_id_of_nothing_is_a_null_node_without_error(client, type_name):
    response = await post(client, "query($id: ID!) { node(id: $id) { id } }", {"id": global_id(type_name, 2**63 - 1)})

    assert answered(response) == {"node": None}


# --- scalars --------------------------------------------------------------------------------


async def orders_of(client: httpx.AsyncClient, customer_id: str) -> int:
    return answered(await post(client, ORDERS, {"id": customer_id}))["customer"]["orders"]["totalCount"]


async def test_a_decimal_float_literal_is_refused_and_changes_nothing(client):
    customer_id = await create_customer(client)

    response = await post(
        client,
        'mutation { recordOrder(input: {customerId: "%s", amount: 12.5, currency: "CNY"}) { order { id } errors { code } } }'
        % customer_id,
    )

    message = refused(response, "GRAPHQL_VALIDATION_FAILED")
    assert 'Decimal values are strings such as "199.00", never floats.' in message
    assert await orders_of(client, customer_id) == 0


async def test_a_decimal_float_variable_is_refused_and_changes_nothing(client):
    customer_id = await create_customer(client)

    response = await post(client, RECORD_ORDER, {"input": {"customerId": customer_id, "amount": 12.5, "currency": "CNY"}})

    message = refused(response, "BAD_USER_INPUT")
    assert message.startswith("Variable '$input' has invalid value")
    assert 'Decimal values are strings such as "199.00", never floats.' in message
    assert await orders_of(client, customer_id) == 0

    response = await post(client, RECORD_ORDER, {"input": {"customerId": customer_id, "amount": "12.50", "currency": "CNY"}})

    assert answered(response)["recordOrder"]["order"]["amount"] == "12.50"
    assert await orders_of(client, customer_id) == 1


@pytest.mark.parametrize("value", ["2026-05-01T09:30:00", "2026-05-01", "1777627800"])
async def test_a_datetime_without_an_offset_is_refused(client, value):
    literal = await post(client, '{ customers(filter: {createdAfter: "%s"}) { totalCount } }' % value)
    variable = await post(
        client, "query($t: DateTime) { customers(filter: {createdAfter: $t}) { totalCount } }", {"t": value}
    )

    for response, code in ((literal, "GRAPHQL_VALIDATION_FAILED"), (variable, "BAD_USER_INPUT")):
        assert "DateTime values are ISO 8601 with an offset" in refused(response, code)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_a_datetime_whose_offset_leaves_the_calendar_is_bad_input_not_an_internal_error(client, value):
    literal = await post(client, '{ customers(filter: {createdAfter: "%s"}) { totalCount } }' % value)
    variable = await post(
        client, "query($t: DateTime) { customers(filter: {createdAfter: $t}) { totalCount } }", {"t": value}
    )

    for response, code in ((literal, "GRAPHQL_VALIDATION_FAILED"), (variable, "BAD_USER_INPUT")):
        message = refused(response, code)
        assert "is not a real date and time" in message
        assert "out of range" not in message


async def test_a_huge_negative_int_literal_is_refused_without_library_internals(client):
    response = await client.post("/graphql", json={"query": "{ customers(first: -" + "9" * 5000 + ") { totalCount } }"})
    body = response.json()
    assert response.status_code in (200, 400)
    assert "Exceeds" not in response.text and "sys.set_int_max_str_digits" not in response.text
    assert body["errors"][0]["extensions"]["code"] in {"BAD_USER_INPUT", "QUERY_TOO_COSTLY", "GRAPHQL_VALIDATION_FAILED"}
