"""Permissions and data scope through the API: every path sees the same customers."""

from __future__ import annotations

import pytest

from models.access import User
from models.customers import Customer
from models.scope import Scope
from models.staff import create_team
from models.tokens import revoke_api_token
from schema.ids import to_global_id
from tests.conftest import PASSWORD, ask, bearer_for, staff

CREATE = """
mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { code message } } }
"""
SEE = """
query($id: ID!) {
  customers { totalCount edges { node { name } } }
  customer(id: $id) { name }
  node(id: $id) { id }
}
"""


async def test_an_anonymous_request_can_only_log_in(clean_db, as_user):
    anonymous = as_user()
    body = await ask(anonymous, "{ customers { totalCount } }")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    created = await ask(anonymous, CREATE, {"input": {"name": "x"}})
    assert created["data"]["createCustomer"]["errors"][0]["code"] == "FORBIDDEN"
    assert await Customer.all().count() == 0
    assert (await ask(anonymous, "{ me { email } }"))["data"] == {"me": None}


async def test_login_returns_a_token_that_works_and_me_tells_the_rights(clean_db, as_user):
    await staff("li@example.com", ["customer.read"], "TEAM")
    login = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token expiresAt errors { code message } } }"
    wrong = await ask(as_user(), login, {"e": "li@example.com", "p": "not the password at all"})
    assert wrong["data"]["login"]["token"] is None
    assert wrong["data"]["login"]["errors"][0]["message"] == "the email or password is wrong, or the account is locked."
    unknown = await ask(as_user(), login, {"e": "nobody@example.com", "p": PASSWORD})
    assert unknown["data"]["login"]["errors"] == wrong["data"]["login"]["errors"]

    token = (await ask(as_user(), login, {"e": "LI@example.com", "p": PASSWORD}))["data"]["login"]["token"]
    me = await ask(as_user({"authorization": f"Bearer {token}"}), "{ me { id email permissions dataScope } }")
    user = await User.get(email="li@example.com")
    assert me["data"]["me"] == {
        "id": to_global_id("User", user.id), "email": "li@example.com", "permissions": ["customer.read"], "dataScope": "TEAM",
    }


async def test_a_bad_or_revoked_token_is_401(clean_db, as_user):
    response = await as_user({"authorization": "Bearer kehu_nonsense"}).post("/graphql", json={"query": "{ me { email } }"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    headers = await bearer_for("x@example.com", is_superuser=True)
    from models.access import ApiToken

    await revoke_api_token(Scope.of_system(), (await ApiToken.get()).id)
    assert (await as_user(headers).post("/graphql", json={"query": "{ me { email } }"})).status_code == 401


@pytest.mark.parametrize(
    ("permissions", "operation", "allowed"),
    [
        (["customer.read"], "read", True),
        ([], "read", False),
        (["customer.read"], "create", False),
        (["customer.read", "customer.create"], "create", True),
        (["customer.read", "customer.create"], "delete", False),
        (["customer.read", "customer.delete"], "delete", True),
        (["customer.read"], "interaction", False),
        (["customer.read", "interaction.create"], "interaction", True),
        (["customer.read"], "order", False),
        (["customer.read", "order.create"], "order", True),
        (["customer.read"], "link", False),
        (["customer.read", "customer.update"], "link", True),
    ],
)
async def test_each_operation_needs_its_permission(clean_db, as_user, permissions, operation, allowed):
    from models.customers import create_customer

    target = await create_customer(Scope.of_system(), {"name": "Target"})
    other = await create_customer(Scope.of_system(), {"name": "Other"})
    ids = {"id": f"{_gid(target['id'])}", "other": _gid(other["id"])}
    http = as_user(await staff("s@example.com", permissions, "ALL"))
    operations = {
        "read": ("query($id: ID!) { customer(id: $id) { name } }", lambda d: d["customer"]),
        "create": ('mutation { createCustomer(input: {name: "N"}) { customer { id } errors { code } } }', lambda d: d["createCustomer"]),
        "delete": ("mutation($id: ID!) { deleteCustomer(input: {id: $id}) { deletedId errors { code } } }", lambda d: d["deleteCustomer"]),
        "interaction": (
            'mutation($id: ID!) { logInteraction(input: {customerId: $id, kind: CALL, direction: OUTBOUND, summary: "s"}) { interaction { id } errors { code } } }',
            lambda d: d["logInteraction"],
        ),
        "order": (
            'mutation($id: ID!) { recordOrder(input: {customerId: $id, amount: "1", currency: "CNY"}) { order { id } errors { code } } }',
            lambda d: d["recordOrder"],
        ),
        "link": (
            "mutation($id: ID!, $other: ID!) { linkCustomers(input: {fromId: $id, toId: $other, kind: FRIEND}) { link { id } errors { code } } }",
            lambda d: d["linkCustomers"],
        ),
    }
    query, pick = operations[operation]
    variables = {k: v for k, v in ids.items() if f"${k}" in query}
    body = await ask(http, query, variables)
    if operation == "read":
        if allowed:
            assert body["data"]["customer"] == {"name": "Target"}
        else:
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        return
    result = pick(body["data"])
    if allowed:
        assert result["errors"] == []
    else:
        assert result["errors"] == [{"code": "FORBIDDEN"}]
        assert await Customer.all().count() == 2
        assert await Customer.filter(deleted_at=None).count() == 2


def _gid(pk: int) -> str:
    from schema.ids import to_global_id

    return to_global_id("Customer", pk)


async def test_teams_see_only_their_customers_through_every_path(clean_db, as_user):
    east, west = await create_team(Scope.of_system(), "East"), await create_team(Scope.of_system(), "West")
    east_http = as_user(await staff("e@example.com", ["customer.read", "customer.create", "customer.update"], "TEAM", east["id"]))
    west_http = as_user(await staff("w@example.com", ["customer.read", "customer.create", "customer.update"], "TEAM", west["id"]))

    e1 = (await ask(east_http, CREATE, {"input": {"name": "east one"}}))["data"]["createCustomer"]["customer"]["id"]
    w1 = (await ask(west_http, CREATE, {"input": {"name": "west one"}}))["data"]["createCustomer"]["customer"]["id"]
    stored = await Customer.get(name="east one")
    assert stored.team_id == east["id"] and stored.owner_id is not None

    # A referral and a link across the teams, made by someone who sees both.
    admin = as_user(await bearer_for("root@example.com", is_superuser=True))
    await ask(admin, "mutation($c: ID!, $r: ID!) { setReferrer(input: {customerId: $c, referrerId: $r}) { errors { code } } }", {"c": w1, "r": e1})
    await ask(admin, "mutation($a: ID!, $b: ID!) { linkCustomers(input: {fromId: $a, toId: $b, kind: FRIEND}) { errors { code } } }", {"a": e1, "b": w1})

    east_view = (await ask(east_http, SEE, {"id": w1}))["data"]
    assert east_view == {"customers": {"totalCount": 1, "edges": [{"node": {"name": "east one"}}]}, "customer": None, "node": None}
    nested = """
    query($id: ID!) { customer(id: $id) {
      referrals { totalCount edges { node { name } } }
      referralTree { customer { name } }
      referralStats { directCount downstreamCount }
      links { totalCount }
    } }
    """
    graph = (await ask(east_http, nested, {"id": e1}))["data"]["customer"]
    assert graph == {
        "referrals": {"totalCount": 0, "edges": []},
        "referralTree": [],
        "referralStats": {"directCount": 0, "downstreamCount": 0},
        "links": {"totalCount": 0},
    }
    west_referrer = (await ask(west_http, "query($id: ID!) { customer(id: $id) { referrer { name } referredAt } }", {"id": w1}))["data"]
    assert west_referrer == {"customer": {"referrer": None, "referredAt": None}}
    seen_by_admin = (await ask(admin, "query($id: ID!) { customer(id: $id) { referredAt } }", {"id": w1}))["data"]
    assert seen_by_admin["customer"]["referredAt"] is not None
    # Guessing the other team's id in a write reveals nothing either.
    poke = await ask(west_http, "mutation($id: ID!) { updateCustomer(input: {id: $id, name: \"x\"}) { errors { code } } }", {"id": e1})
    assert poke["data"]["updateCustomer"]["errors"] == [{"code": "NOT_FOUND"}]
    assert (await Customer.get(name="east one")).name == "east one"


async def test_without_the_pii_permission_personal_fields_are_masked_and_not_searchable(clean_db, as_user):
    from models.customers import create_customer

    await create_customer(
        Scope.of_system(), {"name": "张伟", "phone": "13812345678", "email": "zhang.wei@example.com", "birthday": None}
    )
    reader = as_user(await staff("r@example.com", ["customer.read"], "ALL"))
    query = "query($s: String) { customers(filter: {search: $s}) { edges { node { name phone email birthday } } } }"
    seen = (await ask(reader, query))["data"]["customers"]["edges"][0]["node"]
    assert seen == {"name": "张伟", "phone": "+86138****5678", "email": "z***@example.com", "birthday": None}
    assert (await ask(reader, query, {"s": "1234"}))["data"]["customers"]["edges"] == []
    assert (await ask(reader, query, {"s": "zhang"}))["data"]["customers"]["edges"] == []

    full = as_user(await staff("p@example.com", ["customer.read", "customer.pii"], "ALL"))
    assert (await ask(full, query, {"s": "1234"}))["data"]["customers"]["edges"][0]["node"]["phone"] == "+8613812345678"


async def test_own_scope_sees_only_what_the_user_owns(clean_db, as_user):
    mine = as_user(await staff("me@example.com", ["customer.read", "customer.create"], "OWN"))
    theirs = as_user(await staff("them@example.com", ["customer.read", "customer.create"], "OWN"))
    await ask(mine, CREATE, {"input": {"name": "mine"}})
    await ask(theirs, CREATE, {"input": {"name": "theirs"}})
    names = (await ask(mine, "{ customers { edges { node { name } } } }"))["data"]["customers"]["edges"]
    assert names == [{"node": {"name": "mine"}}]


async def test_a_duplicate_outside_the_scope_is_refused_without_naming_it(clean_db, as_user):
    from models.customers import create_customer

    await create_customer(Scope.of_system(), {"name": "hidden", "phone": "13812345678"})
    seller = as_user(await staff("s@example.com", ["customer.read", "customer.create"], "OWN"))
    result = (await ask(seller, 'mutation { createCustomer(input: {name: "n", phone: "13812345678"}) { errors { code message } } }'))
    assert result["data"]["createCustomer"]["errors"] == [
        {"code": "DUPLICATE", "message": "another customer already has this phone."}
    ]
