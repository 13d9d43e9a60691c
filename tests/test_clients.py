"""Common GraphQL clients work against /graphql unchanged.

Python's gql runs for real (its introspection query, its POSTs); Apollo Client and urql are
JavaScript, so their requests are reproduced byte for byte: the headers and methods they
send by default.
"""

from __future__ import annotations

import json

import httpx
from gql import Client
from gql import gql as document
from gql.transport.httpx import HTTPXAsyncTransport

from server.app import create_app

URQL_ACCEPT = "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed"
APOLLO_ACCEPT = "application/graphql-response+json,application/json;q=0.9"


async def test_python_gql_fetches_the_schema_and_runs_operations(settings, admin_headers):
    transport = HTTPXAsyncTransport(
        url="http://kehu.test/graphql", transport=httpx.ASGITransport(app=create_app(settings)), headers=admin_headers
    )
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        created = await session.execute(
            document('mutation { createCustomer(input: {name: "张伟", phone: "13812345678"}) { customer { id name } errors { code } } }')
        )
        assert created["createCustomer"]["errors"] == []
        listed = await session.execute(document("{ customers(first: 5) { totalCount edges { node { name phone } } } }"))
    assert listed["customers"] == {"totalCount": 1, "edges": [{"node": {"name": "张伟", "phone": "+8613812345678"}}]}
    assert session.client.schema is not None and session.client.schema.get_type("Customer") is not None


async def test_urql_style_get_query_is_answered(client, gql):
    await gql('mutation { createCustomer(input: {name: "A"}) { errors { code } } }')
    response = await client.get(
        "/graphql",
        params={"query": "query List { customers { totalCount } }", "operationName": "List", "variables": "{}"},
        headers={"accept": URQL_ACCEPT},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert response.json()["data"] == {"customers": {"totalCount": 1}}


async def test_apollo_style_post_mutation_is_answered(client):
    response = await client.post(
        "/graphql",
        content=json.dumps(
            {
                "operationName": "Create",
                "variables": {"input": {"name": "Apollo"}},
                "query": "mutation Create($input: CreateCustomerInput!) {\n  createCustomer(input: $input) {\n    customer {\n      id\n      name\n      __typename\n    }\n    __typename\n  }\n}",
            }
        ),
        headers={"accept": APOLLO_ACCEPT, "content-type": "application/json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert response.json()["data"]["createCustomer"]["customer"]["name"] == "Apollo"
