"""The compiled read path answers exactly what the executor answers (PostgreSQL), for every data
scope with and without customer.pii, over a corpus of documents that covers every field,
argument, alias and fragment it knows; what it does not know goes to the executor."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import product

import httpx
import pytest
from graphql import parse

from models import db, graph
from models.access import Team, User, viewer_of
from models.customers import Customer, create_customer
from models.graph import LinkKind
from models.interactions import Interaction
from models.orders import Order
from models.scope import Scope
from models.staff import create_team
from schema import build_schema
from schema.compiler import compile_query
from schema.ids import NODE_TYPES, to_global_id, to_global_id_sql
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

DOCUMENTS.append(("query($after: String, $n: Int) { customers(first: $n, after: $after) { edges { cursor node { name } } } }", True))


def _generated(count: int, seed: int = 14) -> list[str]:
    """Documents over every field, argument, alias, fragment and nesting the compiler knows, drawn
    at random (the same ones every run): what the fixed corpus does not think of."""
    rng = random.Random(seed)
    scalars = CUSTOMER.split() + ["orderCount", "lastOrderAt"]
    fragments: dict[str, str] = {}

    aliases = iter(range(10**6))

    def key(name: str) -> str:
        return f"a{next(aliases)}: {name}" if rng.random() < 0.1 else name

    def page_args(size: int) -> str:
        return f"(first: {rng.randint(0, size)})" if rng.random() < 0.9 else ""

    def connection(node: str) -> str:
        parts = []
        if rng.random() < 0.5:
            parts.append(key("totalCount"))
        edge = [key("node") + f" {{ {node} }}"] + ([key("cursor")] if rng.random() < 0.5 else [])
        parts.append(key("edges") + " { " + " ".join(rng.sample(edge, len(edge))) + " }")
        if rng.random() < 0.4:
            info = rng.sample(["hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"], rng.randint(1, 5))
            parts.append(key("pageInfo") + " { " + " ".join(info) + " }")
        return "{ " + " ".join(rng.sample(parts, len(parts))) + " }"

    def customer(depth: int) -> str:
        fields = [key(name) for name in rng.sample(scalars, rng.randint(1, 6))]
        if depth < 3:
            if rng.random() < 0.4:
                fields.append(key("referrer") + f" {{ {customer(depth + 1)} }}")
            if rng.random() < 0.5:
                fields.append(key("referrals") + page_args(4) + " " + connection(customer(depth + 1)))
            if rng.random() < 0.3:
                kinds = rng.choice(["", "(kinds: [FRIEND, FAMILY])", "(first: 2, kinds: [COLLEAGUE])"])
                link = " ".join(rng.sample(["id", "kind", "note", "createdAt", "direction", "__typename"], 3))
                fields.append(key("links") + kinds + " " + connection(f"{link} customer {{ {customer(3)} }}"))
        if rng.random() < 0.3:
            fields.append(key("interactions") + page_args(3) + " " + connection(" ".join(rng.sample(INTERACTION.split(), 3))))
        if rng.random() < 0.3:
            fields.append(key("orders") + page_args(3) + " " + connection(" ".join(rng.sample(ORDER.split(), 3))))
        if rng.random() < 0.2:
            fields.append(key("lifetimeValue") + " { amount currency }")
        selection = " ".join(fields)
        roll = rng.random()
        if roll < 0.15:
            name = f"F{len(fragments)}"
            fragments[name] = f"fragment {name} on Customer {{ {selection} }}"
            return f"...{name}"
        if roll < 0.25:
            return f"... on Customer {{ {selection} }}"
        return selection

    documents = []
    for _ in range(count):
        fragments.clear()
        roots = []
        for n in range(rng.randint(1, 2)):
            roll = rng.random()
            root = (lambda name, n=n: f"r{n}: {name}") if n else key  # two roots of one name need aliases
            if roll < 0.5:
                order = rng.choice(["", ", orderBy: {field: NAME}", ", orderBy: {field: CREATED_AT, direction: ASC}", ", orderBy: {field: ID}"])
                roots.append(f"{root('customers')}(first: {rng.randint(1, 8)}{order}) {connection(customer(1))}")
            elif roll < 0.75:
                roots.append(f"{root('customer')}(id: $id) {{ {customer(1)} }}")
            elif roll < 0.9:
                roots.append(f"{root('node')}(id: $h) {{ __typename ... on Customer {{ {customer(1)} }} }}")
            else:
                roots.append(f"{root('nodes')}(ids: [$id, $h]) {{ ... on Customer {{ {customer(2)} }} }}")
        body = " ".join(roots)
        declared = ", ".join(f"${name}: ID!" for name in ("id", "h") if f"${name}" in body)
        documents.append(f"query{f'({declared})' if declared else ''} {{ {body} }} " + " ".join(fragments.values()))
    return documents


GENERATED = _generated(260)


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


async def test_global_ids_written_in_sql_are_pythons(clean_db):
    if not clean_db.startswith("postgres"):
        pytest.skip("the compiled read path is PostgreSQL's")
    pks = (1, 9, 10, 99, 123, 4_567, 99_999, 1_000_000, 2**31 - 1, 2**53, 9_223_372_036_854_775_807)
    for type_name in NODE_TYPES:  # names that fill base64's groups and names that do not
        values = ", ".join(f"({pk}::bigint)" for pk in pks)
        rows = await db.connection().execute_query_dict(f"SELECT {to_global_id_sql(type_name, 'v.pk')} AS id FROM (VALUES {values}) v(pk)")
        assert [row["id"] for row in rows] == [to_global_id(type_name, pk) for pk in pks], type_name


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
    real = compiler._Plan.bind

    def broken(plan, *args, **kwargs):
        compiled = real(plan, *args, **kwargs)
        return compiler.Compiled(compiled.sql.replace("string_agg", "string_aggr", 1), compiled.params)

    monkeypatch.setattr(compiler._Plan, "bind", broken)
    client = _client(database, True)
    try:
        answer = (await client.post("/graphql", json={"query": DOCUMENTS[1][0]}, headers=viewers["ALL"])).json()
    finally:
        await client.aclose()
    assert "errors" not in answer and len(answer["data"]["customers"]["edges"]) == 2
    assert "a compiled query failed" in caplog.text


async def test_a_plan_is_compiled_once_per_scope_kind_and_bound_for_each_caller(world, database, monkeypatch):
    from schema import compiler

    people, viewers = world
    west_team = (await Team.get(name="West")).id
    west = await bearer_for_user((await staff_member("west@example.com", ["customer.read"], "TEAM", west_team))["id"])
    compiles = []
    real = compiler._plan

    async def counted(*args, **kwargs):
        compiles.append(args[2])
        return await real(*args, **kwargs)

    monkeypatch.setattr(compiler, "_plan", counted)
    compiler.PLANS.clear()
    query = """query($id: ID!, $after: String) { customer(id: $id) { name
      referrals(first: 1, after: $after) { edges { cursor node { name } } pageInfo { hasNextPage } } } }"""
    compiled, executed = _client(database, True), _client(database, False)
    try:
        for headers, name, paged in product((viewers["TEAM"], west), ("张伟", "李娜", "王芳"), (False, True)):
            variables = {"id": to_global_id("Customer", people[name]), "after": None}
            if paged:  # from the first referral this caller sees
                first = (await executed.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
                edges = (first["data"]["customer"] or {"referrals": {"edges": []}})["referrals"]["edges"]
                variables["after"] = edges[0]["cursor"] if edges else None
            ours = (await compiled.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
            theirs = (await executed.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
            assert ours == theirs, (name, paged)
        # Two teams, three customers, with and without a cursor: one plan for a first page, one for a page after.
        assert len(compiles) == 2
        # The east team's caller sees its customer; the west team's does not, through the same plan.
        east_view = (await compiled.post("/graphql", json={"query": query, "variables": {"id": to_global_id("Customer", people["王芳"])}},
                                         headers=viewers["TEAM"])).json()
        west_view = (await compiled.post("/graphql", json={"query": query, "variables": {"id": to_global_id("Customer", people["王芳"])}},
                                         headers=west)).json()
        assert east_view["data"]["customer"]["name"] == "王芳" and west_view["data"]["customer"] is None
        assert len(compiles) == 3  # $after left out: a shape of its own, compiled once for both
        # A variable that shapes the statement (the page size) is part of the key.
        sized = "query($n: Int) { customers(first: $n) { edges { node { name } } } }"
        for n in (1, 2, 1):
            ours = (await compiled.post("/graphql", json={"query": sized, "variables": {"n": n}}, headers=west)).json()
            assert len(ours["data"]["customers"]["edges"]) == n
        assert len(compiles) == 5
    finally:
        await compiled.aclose()
        await executed.aclose()


async def test_the_plans_kept_are_bounded(world, database, monkeypatch):
    from schema import compiler

    _, viewers = world
    monkeypatch.setattr(compiler, "PLANS", compiler._Plans(size=3))
    client = _client(database, True)
    try:
        for n in range(1, 7):
            answer = (await client.post("/graphql", json={"query": f"{{ customers(first: {n}) {{ edges {{ node {{ name }} }} }} }}"},
                                        headers=viewers["ALL"])).json()
            assert len(answer["data"]["customers"]["edges"]) == n
        assert len(compiler.PLANS._plans) == 3 and len(compiler.PLANS._bound) == 3
    finally:
        await client.aclose()


async def test_generated_documents_answer_the_same(world, database):
    """Every generated document compiles, and answers as the executor does for every viewer."""
    people, viewers = world
    schema = build_schema()._schema
    variables = {"id": to_global_id("Customer", people["王芳"]), "h": to_global_id("Customer", people["张伟"])}
    compiled, executed = _client(database, True), _client(database, False)
    scope = await Scope.for_viewer(await viewer_of(await User.get(email="team1@example.com")))
    try:
        taken = 0
        for document in GENERATED:
            theirs_all = (await executed.post("/graphql", json={"query": document, "variables": variables}, headers=viewers["ALL+pii"])).json()
            if "errors" in theirs_all:  # over a limit (cost, depth, aliases): refused before anything runs, and not the point here
                assert theirs_all["errors"][0]["extensions"]["code"] in {"QUERY_TOO_COSTLY", "QUERY_TOO_DEEP", "TOO_MANY_ALIASES"}, (document, theirs_all)
                continue
            taken += 1
            assert await compile_query(schema, parse(document), None, variables, scope) is not None, document
            for who, headers in viewers.items():
                ours = await compiled.post("/graphql", json={"query": document, "variables": variables}, headers=headers)
                theirs = await executed.post("/graphql", json={"query": document, "variables": variables}, headers=headers)
                assert ours.json() == theirs.json(), (who, document)
        assert taken >= 200
    finally:
        await compiled.aclose()
        await executed.aclose()
