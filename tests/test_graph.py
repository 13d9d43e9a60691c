"""The customer graph: referrers, cycles, referral trees and stats, links."""

from __future__ import annotations

from models import refusals
from models.audit import AuditEvent
from models.customers import Customer, create_customer
from models.graph import CustomerLink
from models.scope import Scope
from models.staff import create_team
from schema.ids import to_global_id
from tests.conftest import ask, staff

SYSTEM = Scope.of_system()

CREATE = """
mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { code } } }
"""
SET_REFERRER = """
mutation($c: ID!, $r: ID) {
  setReferrer(input: {customerId: $c, referrerId: $r}) {
    customer { id referrer { id } referredAt }
    errors { field code message }
  }
}
"""
LINK = """
mutation($from: ID!, $to: ID!, $kind: LinkKind!, $note: String) {
  linkCustomers(input: {fromId: $from, toId: $to, kind: $kind, note: $note}) {
    link { id kind note direction from { id } to { id } customer { id } }
    errors { field code existingId }
  }
}
"""
UNLINK = """
mutation($from: ID!, $to: ID!, $kind: LinkKind!) {
  unlinkCustomers(input: {fromId: $from, toId: $to, kind: $kind}) { unlinkedId errors { field code } }
}
"""
GRAPH = """
query($id: ID!, $depth: Int) {
  customer(id: $id) {
    name
    referrer { name }
    referrals(first: 10) { totalCount edges { node { name } } }
    referralTree(depth: $depth) { level customer { name } }
    referralStats { directCount downstreamCount maxDepth downstreamRevenue { amount currency } }
    links { totalCount edges { node { kind direction note customer { name } } } }
  }
}
"""
ORDER = """
mutation($c: ID!, $amount: Decimal!, $currency: String!, $status: OrderStatus!) {
  recordOrder(input: {customerId: $c, amount: $amount, currency: $currency, status: $status}) { errors { code } }
}
"""


async def customer(gql, name: str, referrer: str | None = None) -> str:
    result = await gql(CREATE, {"input": {"name": name, "referrerId": referrer}})
    assert result["data"]["createCustomer"]["errors"] == [], result
    return result["data"]["createCustomer"]["customer"]["id"]


async def chain(gql, *names: str) -> list[str]:
    """A referral chain: each customer referred by the one before."""
    ids: list[str] = []
    for name in names:
        ids.append(await customer(gql, name, ids[-1] if ids else None))
    return ids


async def test_set_and_clear_a_referrer(gql):
    a, b = await customer(gql, "A"), await customer(gql, "B")
    result = (await gql(SET_REFERRER, {"c": b, "r": a}))["data"]["setReferrer"]
    assert result["errors"] == []
    assert result["customer"]["referrer"] == {"id": a}
    assert result["customer"]["referredAt"] is not None
    assert (await Customer.get(name="B")).referrer_id == (await Customer.get(name="A")).id

    cleared = (await gql(SET_REFERRER, {"c": b, "r": None}))["data"]["setReferrer"]
    assert cleared["customer"]["referrer"] is None
    assert cleared["customer"]["referredAt"] is None
    assert (await Customer.get(name="B")).referrer_id is None


async def test_a_referrer_that_would_close_a_loop_is_refused(gql):
    a, b, c, d = await chain(gql, "A", "B", "C", "D")

    itself = (await gql(SET_REFERRER, {"c": a, "r": a}))["data"]["setReferrer"]
    assert itself["errors"][0]["code"] == "CYCLE"
    downstream = (await gql(SET_REFERRER, {"c": a, "r": d}))["data"]["setReferrer"]
    assert downstream["customer"] is None
    assert downstream["errors"][0] == {
        "field": "referrerId",
        "code": "CYCLE",
        "message": "the referrer was referred, directly or down the chain, by this customer.",
    }
    assert (await Customer.get(name="A")).referrer_id is None

    # Moving a subtree elsewhere in the same tree is fine.
    moved = (await gql(SET_REFERRER, {"c": d, "r": b}))["data"]["setReferrer"]
    assert moved["errors"] == []


async def test_a_loop_through_a_deleted_customer_is_still_refused(gql):
    a, b, c = await chain(gql, "A", "B", "C")
    await gql("mutation($id: ID!) { deleteCustomer(input: {id: $id}) { errors { code } } }", {"id": b})
    result = (await gql(SET_REFERRER, {"c": a, "r": c}))["data"]["setReferrer"]
    assert result["errors"][0]["code"] == "CYCLE"


async def test_unknown_customers_are_not_found(gql):
    a = await customer(gql, "A")
    nobody = "Q3VzdG9tZXI6OTk5OTk="  # Customer:99999
    result = (await gql(SET_REFERRER, {"c": a, "r": nobody}))["data"]["setReferrer"]
    assert result["errors"][0]["field"] == "referrerId"
    assert result["errors"][0]["code"] == "NOT_FOUND"
    not_a_customer = "T3JkZXI6MQ=="  # Order:1
    result = (await gql(SET_REFERRER, {"c": not_a_customer, "r": a}))["data"]["setReferrer"]
    assert result["errors"][0]["code"] == "NOT_FOUND"


async def test_referral_tree_levels_depth_and_stats(gql):
    root, l1, l2, l3, l4 = await chain(gql, "root", "l1", "l2", "l3", "l4")
    side = await customer(gql, "side", root)
    await gql(ORDER, {"c": l2, "amount": "100.00", "currency": "CNY", "status": "PAID"})
    await gql(ORDER, {"c": l4, "amount": "50.50", "currency": "CNY", "status": "PAID"})
    await gql(ORDER, {"c": side, "amount": "10", "currency": "USD", "status": "PAID"})
    await gql(ORDER, {"c": l1, "amount": "999", "currency": "CNY", "status": "PENDING"})
    await gql(ORDER, {"c": root, "amount": "7", "currency": "CNY", "status": "PAID"})

    data = (await gql.data(GRAPH, {"id": root, "depth": 2}))["customer"]
    assert data["referrer"] is None
    assert sorted(e["node"]["name"] for e in data["referrals"]["edges"]) == ["l1", "side"]
    assert data["referrals"]["totalCount"] == 2
    assert sorted((e["level"], e["customer"]["name"]) for e in data["referralTree"]) == [
        (1, "l1"),
        (1, "side"),
        (2, "l2"),
    ]
    assert data["referralStats"] == {
        "directCount": 2,
        "downstreamCount": 5,
        "maxDepth": 4,
        "downstreamRevenue": [
            {"amount": "150.50", "currency": "CNY"},
            {"amount": "10.00", "currency": "USD"},
        ],
    }
    deep = (await gql.data(GRAPH, {"id": root, "depth": 6}))["customer"]["referralTree"]
    assert [e["level"] for e in deep] == [1, 1, 2, 3, 4]


async def test_referral_tree_depth_outside_1_to_6_is_refused(gql):
    root = await customer(gql, "root")
    for depth in (0, 7):
        body = await gql(GRAPH, {"id": root, "depth": depth})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert body["errors"][0]["extensions"]["field"] == "depth"


async def test_deleted_customers_leave_the_graph(gql):
    root, mid, leaf = await chain(gql, "root", "mid", "leaf")
    await gql("mutation($id: ID!) { deleteCustomer(input: {id: $id}) { errors { code } } }", {"id": mid})
    data = (await gql.data(GRAPH, {"id": root, "depth": 3}))["customer"]
    assert data["referrals"]["totalCount"] == 0
    assert data["referralTree"] == []
    assert data["referralStats"]["downstreamCount"] == 0
    leaf_data = (await gql.data(GRAPH, {"id": leaf, "depth": 1}))["customer"]
    assert leaf_data["referrer"] is None


async def test_links_in_both_directions_with_kind_and_note(gql):
    a, b, c = await customer(gql, "A"), await customer(gql, "B"), await customer(gql, "C")
    made = (await gql(LINK, {"from": a, "to": b, "kind": "FAMILY", "note": "siblings"}))["data"]["linkCustomers"]
    assert made["errors"] == []
    assert made["link"]["from"] == {"id": a} and made["link"]["to"] == {"id": b}
    await gql(LINK, {"from": c, "to": a, "kind": "SUBSIDIARY"})

    links = (await gql.data(GRAPH, {"id": a, "depth": 1}))["customer"]["links"]
    assert links["totalCount"] == 2
    seen = {(e["node"]["kind"], e["node"]["direction"], e["node"]["customer"]["name"]) for e in links["edges"]}
    assert seen == {("FAMILY", "OUTGOING", "B"), ("SUBSIDIARY", "INCOMING", "C")}
    b_links = (await gql.data(GRAPH, {"id": b, "depth": 1}))["customer"]["links"]["edges"]
    assert [(e["node"]["direction"], e["node"]["note"]) for e in b_links] == [("INCOMING", "siblings")]


async def test_self_links_and_duplicate_links_are_refused(gql):
    a, b = await customer(gql, "A"), await customer(gql, "B")
    self_link = (await gql(LINK, {"from": a, "to": a, "kind": "FRIEND"}))["data"]["linkCustomers"]
    assert self_link["errors"][0]["code"] == "SELF_LINK"

    first = (await gql(LINK, {"from": a, "to": b, "kind": "FRIEND"}))["data"]["linkCustomers"]["link"]
    again = (await gql(LINK, {"from": b, "to": a, "kind": "FRIEND"}))["data"]["linkCustomers"]
    assert again["link"] is None
    assert again["errors"] == [{"field": "kind", "code": "DUPLICATE", "existingId": first["id"]}]
    other_kind = (await gql(LINK, {"from": a, "to": b, "kind": "COLLEAGUE"}))["data"]["linkCustomers"]
    assert other_kind["errors"] == []
    assert await CustomerLink.all().count() == 2


async def test_unlink_removes_the_tie_whichever_way_it_was_recorded(gql):
    a, b = await customer(gql, "A"), await customer(gql, "B")
    link = (await gql(LINK, {"from": a, "to": b, "kind": "PARTNER"}))["data"]["linkCustomers"]["link"]
    result = (await gql(UNLINK, {"from": b, "to": a, "kind": "PARTNER"}))["data"]["unlinkCustomers"]
    assert result == {"unlinkedId": link["id"], "errors": []}
    assert await CustomerLink.all().count() == 0
    missing = (await gql(UNLINK, {"from": b, "to": a, "kind": "PARTNER"}))["data"]["unlinkCustomers"]
    assert missing["errors"] == [{"field": "kind", "code": "NOT_FOUND"}]


async def test_a_link_to_a_deleted_customer_is_hidden(gql):
    a, b = await customer(gql, "A"), await customer(gql, "B")
    link = (await gql(LINK, {"from": a, "to": b, "kind": "FRIEND"}))["data"]["linkCustomers"]["link"]
    await gql("mutation($id: ID!) { deleteCustomer(input: {id: $id}) { errors { code } } }", {"id": b})
    links = (await gql.data(GRAPH, {"id": a, "depth": 1}))["customer"]["links"]
    assert links == {"totalCount": 0, "edges": []}
    node = await gql.data("query($id: ID!) { node(id: $id) { id } }", {"id": link["id"]})
    assert node["node"] is None


async def test_node_and_nodes_fetch_every_kind_of_object(gql):
    a, b = await customer(gql, "A"), await customer(gql, "B")
    link = (await gql(LINK, {"from": a, "to": b, "kind": "FRIEND"}))["data"]["linkCustomers"]["link"]["id"]
    interaction = (
        await gql.data(
            'mutation($c: ID!) { logInteraction(input: {customerId: $c, kind: NOTE, direction: OUTBOUND, summary: "n"}) { interaction { id } } }',
            {"c": a},
        )
    )["logInteraction"]["interaction"]["id"]
    order = (
        await gql.data(
            'mutation($c: ID!) { recordOrder(input: {customerId: $c, amount: "5", currency: "CNY"}) { order { id } } }',
            {"c": a},
        )
    )["recordOrder"]["order"]["id"]
    query = """
    query($ids: [ID!]!) {
      nodes(ids: $ids) {
        __typename id
        ... on Customer { name }
        ... on CustomerLink { kind from { name } to { name } }
        ... on Interaction { summary customer { name } }
        ... on Order { amount customer { name } }
      }
    }
    """
    nodes = (await gql.data(query, {"ids": [a, link, interaction, order, "Q3VzdG9tZXI6OTk5OTk="]}))["nodes"]
    assert nodes == [
        {"__typename": "Customer", "id": a, "name": "A"},
        {"__typename": "CustomerLink", "id": link, "kind": "FRIEND", "from": {"name": "A"}, "to": {"name": "B"}},
        {"__typename": "Interaction", "id": interaction, "summary": "n", "customer": {"name": "A"}},
        {"__typename": "Order", "id": order, "amount": "5.00", "customer": {"name": "A"}},
        None,
    ]
    single = await gql.data("query($id: ID!) { node(id: $id) { id ... on Order { currency } } }", {"id": order})
    assert single == {"node": {"id": order, "currency": "CNY"}}


async def test_referrals_page_through_with_cursors(gql):
    root = await customer(gql, "root")
    for i in range(5):
        await customer(gql, f"r{i}", root)
    query = """
    query($id: ID!, $after: String) {
      customer(id: $id) { referrals(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }
    }
    """
    seen, after = [], None
    while True:
        page = (await gql.data(query, {"id": root, "after": after}))["customer"]["referrals"]
        assert page["totalCount"] == 5
        seen += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["r4", "r3", "r2", "r1", "r0"]


async def test_a_referrer_out_of_scope_is_neither_cleared_nor_replaced(clean_db, as_user):
    # Given West's customer who referred East's 张伟, and East's salesperson who sees only 张伟 and 李娜
    east, west = (await create_team(SYSTEM, "East"))["id"], (await create_team(SYSTEM, "West"))["id"]
    referrer = await create_customer(SYSTEM, {"name": "West's ambassador"})
    referred = await create_customer(SYSTEM, {"name": "张伟"}, referrer["id"])
    other = await create_customer(SYSTEM, {"name": "李娜"})
    await Customer.filter(id=referrer["id"]).update(team_id=west)
    await Customer.filter(id__in=[referred["id"], other["id"]]).update(team_id=east)
    sales = as_user(await staff("sales@example.com", ["customer.read", "customer.update"], "TEAM", east))

    cleared = await ask(sales, SET_REFERRER, {"c": to_global_id("Customer", referred["id"]), "r": None})
    replaced = await ask(sales, SET_REFERRER, {"c": to_global_id("Customer", referred["id"]), "r": to_global_id("Customer", other["id"])})

    for answer in (cleared, replaced):
        assert [e["code"] for e in answer["data"]["setReferrer"]["errors"]] == ["FORBIDDEN"]
    assert (await Customer.get(id=referred["id"])).referrer_id == referrer["id"]  # the credit stays West's
    # That there is a hidden referrer is itself telling: counted, like DUPLICATE and CYCLE
    assert await AuditEvent.filter(action="user.refused_hidden_referrer").count() == 2
    for _ in range(refusals.LIMIT - 2):
        await ask(sales, SET_REFERRER, {"c": to_global_id("Customer", referred["id"]), "r": None})
    over = await ask(sales, SET_REFERRER, {"c": to_global_id("Customer", referred["id"]), "r": None})
    assert [e["code"] for e in over["data"]["setReferrer"]["errors"]] == ["RATE_LIMITED"]
