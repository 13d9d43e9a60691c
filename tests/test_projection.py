"""Customers are read with only the columns a query's selection needs, and answer the same.

Every field of ``Customer``, asked alone, must come back as it does when every field is
asked at once, wherever customers are reached (a list, by id, as a node, as referrals, as a
referrer, as an order's customer), for a viewer who sees personal data and one who sees it masked.
"""

from __future__ import annotations

import httpx
import pytest

from models.scope import Scope
from models.staff import create_role, create_user
from models.tokens import create_api_token
from schema import build_schema
from schema.customers import _BY_ID, _FIELD_COLUMNS
from server.app import create_app
from server.settings import Settings
from tests.conftest import TEST_SECRET

# Each Customer field with a small selection below it.
FIELDS = {
    "id": "id", "__typename": "__typename", "name": "name", "phone": "phone", "email": "email",
    "birthday": "birthday", "gender": "gender", "company": "company", "source": "source",
    "customFields": "customFields", "notes": "notes", "createdAt": "createdAt", "updatedAt": "updatedAt",
    "referrer": "referrer { id name phone }", "referredAt": "referredAt", "tags": "tags",
    "referrals": "referrals(first: 5) { totalCount edges { node { id name email } } }",
    "referralTree": "referralTree(depth: 2) { level customer { id name } }",
    "referralStats": "referralStats { directCount downstreamCount maxDepth }",
    "links": "links { totalCount }", "interactions": "interactions(first: 3) { totalCount edges { node { kind } } }",
    "orders": "orders { totalCount }", "orderCount": "orderCount",
    "lifetimeValue": "lifetimeValue { amount currency }", "lastOrderAt": "lastOrderAt",
    "complaints": "complaints { totalCount }",
    "followUps": "followUps { totalCount }",
    "segment": "segment { tier }", "ownerId": "ownerId", "teamId": "teamId",
    "poolEvents": "poolEvents { kind at }",
    "loyalty": "loyalty { balance level pointsEarned12m expiringSoon { points } levelChanges { toLevel } }",
    "pointsLedger": "pointsLedger { totalCount edges { node { kind points } } }",
    "recommendations": "recommendations { sku reason }",
}
# Where customers are reached: ``{}`` is the selection of each customer there.
PLACES = {
    "list": ("{ customers(first: 10, orderBy: {field: NAME}) { edges { node { {} } } } }", lambda d: d["customers"]["edges"]),
    "by id": ("query($b: ID!) { customer(id: $b) { {} } }", lambda d: d["customer"]),
    "node": ("query($b: ID!) { node(id: $b) { ... on Customer { {} } } }", lambda d: d["node"]),
    "referrals": (
        "query($a: ID!) { customer(id: $a) { referrals { edges { node { {} } } } } }",
        lambda d: d["customer"]["referrals"]["edges"],
    ),
    "referrer": ("query($c: ID!) { customer(id: $c) { referrer { {} } } }", lambda d: d["customer"]["referrer"]),
    "order's customer": (
        "query($b: ID!) { customer(id: $b) { orders { edges { node { customer { {} } } } } } }",
        lambda d: d["customer"]["orders"]["edges"],
    ),
}
CREATE = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { code } } }"""


@pytest.fixture
def settings(database: str) -> Settings:
    """The executor's projection is what these tests read: the compiled path (test_compiler.py) is off."""
    return Settings.from_env({"KEHU_DATABASE_URL": database, "KEHU_SECRET_KEY": TEST_SECRET, "KEHU_COMPILED_READS": "false"})


def test_every_customer_field_says_which_columns_it_reads():
    customer_type = build_schema()._schema.type_map["Customer"]
    assert set(customer_type.fields) | {"__typename"} == set(FIELDS)
    assert set(FIELDS) == _BY_ID | set(_FIELD_COLUMNS)


async def _created(gql, **fields) -> str:
    result = await gql(CREATE, {"input": fields})
    assert result["data"]["createCustomer"]["errors"] == [], result
    return result["data"]["createCustomer"]["customer"]["id"]


@pytest.fixture
async def graph(gql) -> dict[str, str]:
    """A refers B refers C; B has an order, an interaction and every field filled in."""
    a = await _created(gql, name="A 王芳", phone="13812345678", email="a@example.com", source="WECHAT")
    b = await _created(
        gql, name="B 李娜", phone="13912345678", email="b@example.com", birthday="1990-05-01", gender="FEMALE",
        company="上海贸易", source="REFERRAL", tags=["vip", "b2b"], customFields={"level": 3, "city": "上海"},
        notes="prefers WeChat", referrerId=a,
    )
    c = await _created(gql, name="C", referrerId=b)
    order = await gql(
        "mutation($c: ID!) { recordOrder(input: {customerId: $c, amount: \"12.50\", currency: \"CNY\", status: PAID}) { errors { code } } }",
        {"c": b},
    )
    assert order["data"]["recordOrder"]["errors"] == []
    logged = await gql(
        "mutation($c: ID!) { logInteraction(input: {customerId: $c, kind: CALL, direction: INBOUND, summary: \"hi\"}) { errors { code } } }",
        {"c": b},
    )
    assert logged["data"]["logInteraction"]["errors"] == []
    return {"a": a, "b": b, "c": c}


@pytest.fixture
async def masked_client(clean_db, settings):
    """A viewer who may read every customer but not their personal data."""
    role = await create_role(Scope.of_system(), "reader", ["customer.read"], "ALL")
    user = await create_user(Scope.of_system(), "reader@example.com", "Reader", "correct horse battery staple", None, [role["id"]])
    _, secret = await create_api_token(Scope.of_system(), user["id"], "tests")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://kehu.test",
        headers={"authorization": f"Bearer {secret}"},
    ) as http:
        yield http


@pytest.mark.parametrize("viewer", ["unmasked", "masked"])
async def test_each_field_asked_alone_answers_as_when_every_field_is_asked(graph, client, masked_client, viewer):
    http = client if viewer == "unmasked" else masked_client
    variables = {"a": graph["a"], "b": graph["b"], "c": graph["c"]}

    async def ask(place: str, selection: str):
        template, pick = PLACES[place]
        query = template.replace("{}", selection)
        used = {name: value for name, value in variables.items() if f"${name}" in query}
        body = (await http.post("/graphql", json={"query": query, "variables": used})).json()
        assert "errors" not in body, (query, body)
        return pick(body["data"])

    for place in PLACES:
        everything = await ask(place, " ".join(FIELDS.values()))
        assert everything, place  # the place holds customers to compare
        for name, selection in FIELDS.items():
            alone = await ask(place, selection)
            assert alone == _only(everything, name), (place, name)
    if viewer == "masked":
        b = await ask("by id", "phone email birthday")
        assert b == {"phone": "+86139****5678", "email": "b***@example.com", "birthday": None}


def _only(found, name: str):
    """``found`` (a customer, or a list of edges or nodes holding one) with only field ``name``."""
    if isinstance(found, list):
        return [_only(item, name) for item in found]
    if found is None:
        return None
    if set(found) <= {"node", "customer"}:
        return {key: _only(value, name) for key, value in found.items()}
    return {name: found[name]}


async def test_a_page_reads_the_columns_its_selection_names(gql, graph, count_statements):
    def customer_reads() -> str:
        return " ".join(s for s in count_statements.statements if "FROM customer c" in s)

    await gql.data("{ customers { edges { node { name referrals { edges { node { name } } } } } } }")
    reads = customer_reads()
    assert "c.name" in reads and "c.notes" not in reads and "c.custom_fields" not in reads and "c.phone" not in reads

    count_statements.statements.clear()
    await gql.data(
        "{ customers { edges { node { ...Notes referrer { ... on Customer { phone } } } } } }"
        " fragment Notes on Customer { notes }"
    )
    reads = customer_reads()
    assert "c.notes" in reads and "c.phone" in reads and "c.custom_fields" not in reads


async def test_a_fragment_spread_in_two_places_reads_what_each_place_needs(gql, graph):
    """The fragment's field nodes are the same objects in both places, merged with different fields."""
    data = await gql.data(
        "query($b: ID!) { customer(id: $b) { ...Card }"
        " customers(orderBy: {field: NAME}) { edges { node { ...Card referrer { email } } } } }"
        " fragment Card on Customer { name referrer { name } }",
        {"b": graph["b"]},
    )
    assert data["customer"] == {"name": "B 李娜", "referrer": {"name": "A 王芳"}}
    referrers = [edge["node"]["referrer"] for edge in data["customers"]["edges"]]
    assert referrers == [None, {"name": "A 王芳", "email": "a@example.com"}, {"name": "B 李娜", "email": "b@example.com"}]


async def test_fields_of_one_level_that_read_different_columns_share_one_statement(gql, graph, count_statements):
    await gql.data("{ customers { edges { node { referredAt referrer { name } } } } }")
    reads = [s for s in count_statements.statements if "FROM customer c" in s]
    assert len(reads) == 2, reads  # the page, then every referrer (for referredAt and referrer) at once
