"""The compiled read path answers exactly what the executor answers (PostgreSQL), for every data
scope with and without customer.pii, over a corpus of documents that covers every field,
argument, alias and fragment it knows; what it does not know goes to the executor."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import product

import httpx
import pytest
from graphql import parse

from models import db, graph
from models.customers import Customer, create_customer
from models.graph import LinkKind
from models.interactions import Interaction
from models.orders import Order
from models.scope import Scope
from models.staff import create_team
from schema import build_schema
from schema.compiler import compile_query
from schema.ids import to_global_id
from server.app import create_app
from server.settings import Settings
from tests.conftest import TEST_SECRET, bearer_for_user, staff_member

SYSTEM = Scope.of_system()
CUSTOMER = "id name phone email birthday gender company source notes createdAt updatedAt __typename tags customFields referredAt"
INTERACTION = "id kind direction channel occurredAt summary outcome createdAt __typename"
ORDER = "id amount currency status placedAt paymentDueAt paidAt channel createdAt __typename"
PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor __typename }"
# Each document, and whether the compiler takes it.
DOCUMENTS = [
    (f"{{ customers {{ totalCount edges {{ cursor node {{ {CUSTOMER} }} }} {PAGE_INFO} }} }}", True),
    ("{ customers(first: 2) { edges { node { id name } } pageInfo { hasNextPage endCursor } } }", True),
    ("{ customers(first: 3, orderBy: {field: NAME}) { edges { cursor node { name } } } }", True),
    ("{ customers(first: 3, orderBy: {field: CREATED_AT, direction: ASC}) { edges { cursor node { name createdAt } } } }", True),
    ("{ customers(first: 3, orderBy: {field: ID, direction: DESC}) { edges { cursor node { id } } } }", True),
    ("{ customers(first: 3, orderBy: {field: UPDATED_AT}) { totalCount edges { node { name updatedAt } } } }", True),
    ("{ list: customers(first: 5) { n: totalCount e: edges { c: cursor node { who: name referrer { name phone } } } } }", True),
    ("""{ customers(first: 20, orderBy: {field: CREATED_AT, direction: ASC}) { edges { node { id name
        referrer { id name } referrals(first: 10) { edges { node { id name } } }
        interactions(first: 5) { edges { node { kind summary occurredAt } } } } } } }""", True),
    (f"""{{ customers {{ edges {{ node {{ referrals(first: 2) {{ totalCount edges {{ cursor node {{ {CUSTOMER} }} }} {PAGE_INFO} }}
        interactions(first: 2) {{ totalCount edges {{ cursor node {{ {INTERACTION} }} }} {PAGE_INFO} __typename }} }} }} }} }}""", True),
    (f"""{{ customers {{ edges {{ node {{ name orderCount lastOrderAt lifetimeValue {{ amount currency __typename }} orders(first: 3) {{ totalCount edges {{ cursor node {{ {ORDER} }} }} {PAGE_INFO} }} }} }} }} }}""", True),
    (f"""{{ customers {{ edges {{ node {{ name links(first: 2) {{ totalCount edges {{ cursor node {{ id kind note createdAt direction
        __typename customer {{ name phone }} from {{ name }} to {{ email }} }} }} {PAGE_INFO} }} family: links(kinds: [FAMILY]) {{ totalCount }} }} }} }} }}""", True),
    ("""{ customers { edges { node { referrals { edges { node { name referrals(first: 1) { totalCount edges { node {
        name referrals { edges { node { name } } } } } } } } } } } } }""", True),
    ("query($id: ID!) { customer(id: $id) { ...Card referrer { ...Card } } } fragment Card on Customer { id name email }", True),
    ("query($id: ID!) { customer(id: $id) { ... on Customer { name } ... { phone } } }", True),
    ("query($id: ID!, $n: Int) { customer(id: $id) { interactions(first: $n) { edges { node { summary } } } } }", True),
    ("query Named { __typename customers(first: 1) { __typename edges { __typename node { __typename } } } }", True),
    ("""query($id: ID!) { node(id: $id) { id __typename ... on Customer { name referrer { name } } ... on Order { amount }
        ...Mail } } fragment Mail on Customer { email }""", True),
    ("query($id: ID!, $h: ID!) { nodes(ids: [$id, $h, $id]) { id ... on Node { __typename } ... on Customer { phone } } }", True),
    ("query($h: ID!) { customer(id: $h) { name } hidden: node(id: $h) { id } }", True),
    ('{ node(id: "T3JkZXI6MQ==") { id } }', False),
    # The executor's: other fields, arguments, directives, fragments on other types.
    ("{ customers(first: 2) { edges { node { referralStats { directCount } } } } }", False),
    ("{ customers(first: 2) { edges { node { orders { edges { node { customer { name } } } } } } } }", False),
    ("""{ customers(first: 5, filter: {search: "王", tags: ["VIP"], source: [WECHAT, OTHER], createdAfter: "2025-01-01T00:00:00Z"}) {
        totalCount edges { node { name } } } }""", True),
    ("{ customers(filter: {tiers: [VIP], recencyMin: 2, ownerIds: []}) { totalCount } }", True),
    # Compiled for a holder of customer.pii; refused without it, in the executor's words.
    ("{ customers(filter: {birthdayWithinDays: 3}) { totalCount } }", False),
    ("{ customers(last: 2) { edges { node { name } } } }", False),
    ("{ customers(first: 2) { edges { node { name @include(if: true) } } } }", False),
    ("{ customers(first: 2) { edges { node { complaints { totalCount } } } } }", False),
    ("{ me { id } }", False),
]


@pytest.fixture
async def world(clean_db):
    if db.dialect() != "postgres":
        pytest.skip("the compiled read path is PostgreSQL's")
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    seller = (await staff_member("own@example.com", ["customer.read"], "OWN", east))["id"]
    people = {}
    start = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    for i, (name, team, referrer) in enumerate([
        ("张伟", east, None), ("王芳", east, "张伟"), ("李娜", west, "张伟"), ("刘洋", east, "王芳"),
        ("陈静", west, "李娜"), ("杨磊", east, "张伟"), ("O'Brien \"Bob\" \\ x", east, "王芳"), ("赵敏", west, None),
    ]):
        made = await create_customer(SYSTEM, {
            "name": name, "phone": f"+86138{i:08d}" if i % 3 else None, "email": f"p{i}.x@example.com" if i % 2 else f"q{i}@mail.example.cn",
            "birthday": date(1990, 2, 28 - i) if i % 2 else None, "gender": "female" if i % 2 else None, "company": "甲" if i % 3 else None,
            "source": "wechat" if i % 2 else "other", "tags": ["VIP", "老客户", "b"][: i % 4],
            "custom_fields": {"level": i, "note": "甲\"乙", "ratio": 1.5} if i % 2 else {}, "notes": "line\nbreak \"quoted\" \\ tab\t" if i == 3 else "",
        }, people.get(referrer))
        people[name] = made["id"]
        # Some times with microseconds, some on the second; the owner for OWN scope on two of them.
        created = start + timedelta(days=i, microseconds=123456 if i % 2 else 0)
        await Customer.filter(id=made["id"]).update(team_id=team, owner_id=seller if i in (1, 3) else None, created_at=created,
                                                    updated_at=created + timedelta(hours=i))
        for k, (amount, currency, status) in enumerate([("88.50", "CNY", "paid"), ("5000", "JPY", "paid"),
                                                        ("1.234", "BHD", "paid"), ("19.90", "USD", "cancelled"), ("11.50", "CNY", "paid")][: i % 6]):
            await Order.create(customer_id=made["id"], amount=Decimal(amount), currency=currency, status=status, channel="app" if k else None,
                               placed_at=start + timedelta(days=20 + k, microseconds=k), paid_at=start + timedelta(days=21) if status == "paid" else None,
                               payment_due_at=start + timedelta(days=30) if k == 1 else None)
        for k in range(i % 4):
            await Interaction.create(customer_id=made["id"], kind=("call", "visit", "note")[k % 3], direction="outbound",
                                     channel="phone" if k else None, occurred_at=start + timedelta(days=10 + k, seconds=k),
                                     summary=f"{name} {k}", outcome="好" if k == 1 else None)
    for a, b, kind in (("张伟", "王芳", LinkKind.FRIEND), ("王芳", "李娜", LinkKind.FAMILY), ("赵敏", "王芳", LinkKind.COLLEAGUE),
                       ("张伟", "杨磊", LinkKind.SUBSIDIARY), ("刘洋", "王芳", LinkKind.PARTNER)):
        await graph.link_customers(SYSTEM, people[a], people[b], kind, f"{a}→{b}")
    viewers = {"own": await bearer_for_user(seller)}
    for scope, pii in product(("TEAM", "ALL"), (False, True)):
        permissions = ["customer.read", *(["customer.pii"] if pii else [])]
        user = (await staff_member(f"{scope.lower()}{int(pii)}@example.com", permissions, scope, east))["id"]
        viewers[f"{scope}{'+pii' if pii else ''}"] = await bearer_for_user(user)
    return people, viewers


def _client(database: str, compiled: bool) -> httpx.AsyncClient:
    settings = Settings.from_env({"KEHU_DATABASE_URL": database, "KEHU_SECRET_KEY": TEST_SECRET,
                                  "KEHU_COMPILED_READS": "true" if compiled else "false"})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://kehu.test")


async def test_the_compiled_answers_are_the_executors(world, database):
    people, viewers = world
    variables = {"id": to_global_id("Customer", people["王芳"]), "h": to_global_id("Customer", people["赵敏"]), "n": 2}
    compiled, executed = _client(database, True), _client(database, False)
    try:
        for (document, _), (who, headers) in product(DOCUMENTS, viewers.items()):
            ours = await compiled.post("/graphql", json={"query": document, "variables": variables}, headers=headers)
            theirs = await executed.post("/graphql", json={"query": document, "variables": variables}, headers=headers)
            assert ours.status_code == theirs.status_code, (who, document)
            assert ours.json() == theirs.json(), (who, document)
    finally:
        await compiled.aclose()
        await executed.aclose()


async def test_pages_walked_by_cursor_are_the_same(world, database):
    _, viewers = world
    compiled, executed = _client(database, True), _client(database, False)
    query = "query($after: String) { customers(first: 2, after: $after) { edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }"
    try:
        for headers in viewers.values():
            after, seen = None, 0
            while True:
                ours = (await compiled.post("/graphql", json={"query": query, "variables": {"after": after}}, headers=headers)).json()
                theirs = (await executed.post("/graphql", json={"query": query, "variables": {"after": after}}, headers=headers)).json()
                assert ours == theirs
                page = ours["data"]["customers"]
                seen += len(page["edges"])
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
            assert seen >= 2
    finally:
        await compiled.aclose()
        await executed.aclose()


async def test_the_compiler_takes_what_it_knows_and_nothing_else(world):
    people, _ = world
    schema = build_schema()._schema
    from models.access import User, viewer_of

    scope = await Scope.for_viewer(await viewer_of(await User.get(email="all0@example.com")))
    variables = {"id": to_global_id("Customer", people["王芳"]), "h": to_global_id("Customer", people["赵敏"]), "n": 2}
    for document, known in DOCUMENTS:
        assert (await compile_query(schema, parse(document), None, variables, scope) is not None) is known, document
    # A refusal is the executor's to word: no compiled statement without customer.read, or signed out.
    assert await compile_query(schema, parse(DOCUMENTS[1][0]), None, {}, Scope.anonymous()) is None
    # Bad arguments too: a cursor from elsewhere, a page too large, a malformed id.
    for document in ('{ customers(after: "nonsense") { totalCount } }', "{ customers(first: 500) { totalCount } }",
                     '{ customer(id: "x") { name } }'):
        assert await compile_query(schema, parse(document), None, {}, scope) is None


async def test_a_compiled_page_is_one_statement(world, database, count_statements):
    _, viewers = world
    compiled = _client(database, True)
    try:
        count_statements.statements.clear()
        answer = await compiled.post("/graphql", json={"query": DOCUMENTS[7][0]}, headers=viewers["ALL"])
        assert "errors" not in answer.json()
        data = [s for s in count_statements.statements if " AS data" in s]
        others = [s for s in count_statements.statements if " AS data" not in s]
        assert len(data) == 1 and len(others) <= 2  # the token (and its last use); no loader ran
    finally:
        await compiled.aclose()


async def test_a_compiled_statement_that_fails_is_answered_by_the_executor(world, database, monkeypatch, caplog):
    from schema import compiler

    _, viewers = world
    real = compiler.compile_query

    async def broken(*args, **kwargs):
        compiled = await real(*args, **kwargs)
        return compiled and compiler.Compiled(compiled.sql.replace("string_agg", "string_aggr", 1), compiled.params)

    monkeypatch.setattr(compiler, "compile_query", broken)
    client = _client(database, True)
    try:
        answer = (await client.post("/graphql", json={"query": DOCUMENTS[1][0]}, headers=viewers["ALL"])).json()
    finally:
        await client.aclose()
    assert "errors" not in answer and len(answer["data"]["customers"]["edges"]) == 2
    assert "a compiled query failed" in caplog.text
