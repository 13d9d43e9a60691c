"""The audit log: every write leaves one event, personal values masked, secrets never; append-only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from models import db
from models.access import User
from models.audit import AuditEvent
from models.customers import Customer, create_customer, delete_customer
from models.graph import LinkKind, link_customers, set_referrer
from models.interactions import log_interaction
from models.orders import record_order
from models.scope import Scope
from models.staff import create_role, create_team, create_user
from models.tokens import create_api_token
from schema.ids import to_global_id
from tests.conftest import PASSWORD, ask, bearer_for, bearer_for_user, staff

SYSTEM = Scope.of_system()


@pytest.fixture
def started(gql) -> str:
    """After the fixtures' own writes (the admin's token): what each test does comes after this."""
    return datetime.now(UTC).isoformat()


def _since(started: str):
    return AuditEvent.filter(at__gte=datetime.fromisoformat(started)).order_by("id")


EVENTS = """query($f: AuditEventFilterInput) { auditEvents(filter: $f, first: 50) {
  totalCount edges { node { action entityType entityId changes clientIp actor { email } } } } }"""


async def test_customer_writes_are_audited_with_personal_values_masked(gql, started):
    created = await gql.data(
        'mutation { createCustomer(input: {name: "张伟", phone: "13812345678", email: "zhang.wei@example.com"}) { customer { id } } }'
    )
    customer_id = created["createCustomer"]["customer"]["id"]
    await gql.data('mutation($id: ID!) { updateCustomer(input: {id: $id, phone: "13987654321", notes: "VIP"}) { errors { code } } }', {"id": customer_id})
    other = (await gql.data('mutation { createCustomer(input: {name: "李娜"}) { customer { id } } }'))["createCustomer"]["customer"]["id"]
    await gql.data("mutation($c: ID!, $r: ID!) { setReferrer(input: {customerId: $c, referrerId: $r}) { errors { code } } }", {"c": other, "r": customer_id})
    await gql.data("mutation($a: ID!, $b: ID!) { linkCustomers(input: {fromId: $a, toId: $b, kind: FRIEND}) { errors { code } } }", {"a": other, "b": customer_id})
    await gql.data('mutation($c: ID!) { logInteraction(input: {customerId: $c, kind: CALL, direction: OUTBOUND, summary: "hi"}) { errors { code } } }', {"c": customer_id})
    await gql.data('mutation($c: ID!) { recordOrder(input: {customerId: $c, amount: "12.50", currency: "CNY"}) { errors { code } } }', {"c": customer_id})
    await gql.data("mutation($id: ID!) { deleteCustomer(input: {id: $id}) { errors { code } } }", {"id": other})

    log = (await gql.data(EVENTS, {"f": {"entityId": customer_id}}))["auditEvents"]
    actions = [e["node"]["action"] for e in log["edges"]]
    assert actions == ["customer.update", "customer.create"]  # newest first
    update, create = (e["node"] for e in log["edges"])
    assert create["changes"]["phone"] == {"from": None, "to": "+86138****5678"}
    assert create["changes"]["email"] == {"from": None, "to": "z***@example.com"}
    assert update["changes"] == {"phone": {"from": "+86138****5678", "to": "+86139****4321"}, "notes": {"from": "", "to": "VIP"}}
    assert update["actor"] == {"email": "admin@kehu.test"} and update["clientIp"] == "127.0.0.1"

    every = [e["node"]["action"] for e in (await gql.data(EVENTS, {"f": {"since": started}}))["auditEvents"]["edges"]]
    assert sorted(every) == sorted([
        "customer.create", "customer.update", "customer.create", "customer.set_referrer", "customer_link.create",
        "interaction.create", "order.create", "customer.delete",
    ])
    stored = json.dumps([e.changes for e in await AuditEvent.all()], ensure_ascii=False)
    assert "13812345678" not in stored and "zhang.wei@" not in stored


async def test_access_writes_are_audited_and_secrets_never_stored(gql, started):
    role = (await gql.data('mutation { createRole(input: {name: "R", permissions: ["customer.read"], dataScope: OWN}) { role { id } } }'))["createRole"]["role"]
    user = (await gql.data(
        'mutation($r: ID!) { createUser(input: {email: "a@example.com", displayName: "A", password: "correct horse battery staple", roleIds: [$r]}) { user { id } } }',
        {"r": role["id"]},
    ))["createUser"]["user"]
    token = (await gql.data('mutation($u: ID!) { createApiToken(input: {name: "shop", userId: $u}) { token apiToken { id } } }', {"u": user["id"]}))["createApiToken"]
    await gql.data("mutation($id: ID!) { revokeApiToken(input: {id: $id}) { errors { code } } }", {"id": token["apiToken"]["id"]})

    actions = sorted(e.action for e in await _since(started))
    assert actions == ["api_token.create", "api_token.revoke", "role.create", "user.create"]
    created = (await gql.data(EVENTS, {"f": {"entityId": user["id"]}}))["auditEvents"]["edges"][0]["node"]
    assert created["changes"]["email"] == {"from": None, "to": "a***@example.com"}
    assert "password_hash" not in created["changes"] and "password" not in created["changes"]
    stored = json.dumps([e.changes for e in await AuditEvent.all()])
    assert token["token"] not in stored and "argon2" not in stored


async def test_a_refused_write_leaves_no_event(gql, started):
    body = await gql('mutation { createCustomer(input: {name: "", phone: "12"}) { errors { code } } }')
    assert body["data"]["createCustomer"]["errors"]
    assert await _since(started).count() == 0


async def test_the_log_filters_by_actor_action_and_time_and_needs_audit_read(gql, client):
    await gql.data('mutation { createCustomer(input: {name: "A"}) { errors { code } } }')
    admin = (await gql.data("{ auditEvents(first: 1) { edges { node { actor { id } } } } }"))["auditEvents"]["edges"][0]["node"]["actor"]["id"]
    by_actor = await gql.data(EVENTS, {"f": {"actorId": admin, "action": "customer.create"}})
    assert by_actor["auditEvents"]["totalCount"] == 1
    future = await gql.data(EVENTS, {"f": {"since": "2999-01-01T00:00:00Z"}})
    assert future["auditEvents"] == {"totalCount": 0, "edges": []}
    past = await gql.data(EVENTS, {"f": {"until": "2000-01-01T00:00:00Z", "entityType": "customer"}})
    assert past["auditEvents"]["totalCount"] == 0

    reader = await bearer_for("reader@example.com")
    refused = (await client.post("/graphql", json={"query": EVENTS}, headers=reader)).json()
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("statement", ["UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"])
async def test_the_database_refuses_to_change_or_delete_events(gql, started, statement):
    await gql.data('mutation { createCustomer(input: {name: "A"}) { errors { code } } }')
    with pytest.raises(Exception, match="append-only"):
        await db.connection().execute_script(statement)
    assert [e.action for e in await _since(started)] == ["customer.create"]
    assert await AuditEvent.all().count() == 2  # the admin's token, then the customer


SCOPED = """query($f: AuditEventFilterInput) { auditEvents(filter: $f, first: 100) {
  totalCount edges { node { id action entityType entityId changes } } } }"""


@pytest.fixture
async def two_teams(clean_db) -> dict:
    """East and West, each with a customer worked on (interaction, paid order), a member with a
    token, and a link between the two customers."""
    east, west = (await create_team(SYSTEM, "East"))["id"], (await create_team(SYSTEM, "West"))["id"]
    people = {}
    for name, team, summary, amount in (("东", east, "东边的小事", "11.00"), ("西", west, "西边的秘密", "777.00")):
        customer = (await create_customer(SYSTEM, {"name": f"{name}客户", "notes": f"{name}的备注"}))["id"]
        await Customer.filter(id=customer).update(team_id=team)
        await log_interaction(SYSTEM, customer, {"kind": "call", "direction": "inbound", "summary": summary})
        await record_order(SYSTEM, customer, {"amount": Decimal(amount), "currency": "CNY", "status": "paid"})
        member = await create_user(SYSTEM, f"{name.encode().hex()}@example.com", f"{name}同事", PASSWORD, team)
        await create_api_token(SYSTEM, member["id"], f"{name} shop")
        people[name] = {"team": team, "customer": customer, "member": member["id"]}
    await link_customers(SYSTEM, people["东"]["customer"], people["西"]["customer"], LinkKind.FRIEND, None)
    await create_role(SYSTEM, "Helpdesk", ["customer.read"], "TEAM")
    return people


async def test_a_team_auditor_reads_only_what_its_scope_reaches(two_teams, as_user):
    auditor = as_user(await staff("auditor@example.com", ["audit.read", "customer.read"], "TEAM", two_teams["东"]["team"]))

    log = (await ask(auditor, SCOPED))["data"]["auditEvents"]

    seen = {(e["node"]["action"], e["node"]["entityType"]) for e in log["edges"]}
    assert seen == {
        ("customer.create", "customer"), ("interaction.create", "interaction"), ("order.create", "order"),
        ("team.create", "team"), ("user.create", "user"), ("api_token.create", "api_token"), ("role.create", "role"),
    }
    assert log["totalCount"] == len(log["edges"])
    text = json.dumps(log, ensure_ascii=False)
    for west in ("西客户", "西的备注", "西边的秘密", "777", "West", "西同事", "西 shop"):
        assert west not in text  # West's customer, its timeline, its orders, its staff, its team, its tokens
    assert "东边的小事" in text and "东的备注" in text


async def test_an_event_out_of_scope_is_absent_by_id_and_by_filter(two_teams, as_user):
    auditor = as_user(await staff("auditor@example.com", ["audit.read", "customer.read"], "TEAM", two_teams["东"]["team"]))
    west = to_global_id("Customer", two_teams["西"]["customer"])
    hidden = await AuditEvent.filter(customer_id=two_teams["西"]["customer"], entity_type="customer").first()

    by_filter = (await ask(auditor, SCOPED, {"f": {"entityId": west}}))["data"]["auditEvents"]
    by_id = await ask(auditor, "query($id: ID!) { node(id: $id) { id } }", {"id": to_global_id("AuditEvent", hidden.id)})

    assert by_filter == {"totalCount": 0, "edges": []}
    assert by_id["data"] == {"node": None}


async def test_customer_events_need_customer_read_and_deleted_customers_keep_their_history(two_teams, as_user):
    east = two_teams["东"]
    blind = as_user(await staff("blind@example.com", ["audit.read"], "TEAM", east["team"]))
    assert {e["node"]["entityType"] for e in (await ask(blind, SCOPED))["data"]["auditEvents"]["edges"]} == {
        "team", "user", "api_token", "role",
    }
    await delete_customer(SYSTEM, east["customer"])
    auditor = as_user(await staff("auditor@example.com", ["audit.read", "customer.read"], "TEAM", east["team"]))
    history = (await ask(auditor, SCOPED, {"f": {"entityId": to_global_id("Customer", east["customer"])}}))["data"]
    assert [e["node"]["action"] for e in history["auditEvents"]["edges"]] == ["customer.delete", "customer.create"]


async def test_an_auditor_with_all_scope_reads_everything(two_teams, as_user):
    auditor = as_user(await staff("auditor@example.com", ["audit.read", "customer.read"], "ALL"))
    log = (await ask(auditor, SCOPED))["data"]["auditEvents"]
    assert log["totalCount"] == await AuditEvent.all().count()
    assert "西边的秘密" in json.dumps(log, ensure_ascii=False)


async def test_the_actor_is_named_not_shown(two_teams, as_user):
    # Given an event by West's member (signing out), which an auditor of every team may read
    west = await User.get(id=two_teams["西"]["member"])
    await ask(as_user(await bearer_for_user(west.id)), "mutation { logout { revoked } }")
    auditor = as_user(await staff("all@example.com", ["audit.read"], "ALL"))
    revoked = '{ auditEvents(filter: {action: "api_token.revoke"}) { edges { node { actor { %s } } } } }'

    named = await ask(auditor, revoked % "id email displayName")
    shown = await ask(auditor, revoked % "id team { name } roles { name }")

    assert [e["node"]["actor"] for e in named["data"]["auditEvents"]["edges"]] == [
        {"id": to_global_id("User", west.id), "email": west.email, "displayName": west.display_name}
    ]
    assert shown["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"  # the account is node(id:)'s


async def test_a_referrer_the_reader_cannot_see_is_not_told_by_the_log(two_teams, as_user):
    east, west = two_teams["东"], two_teams["西"]
    # 东客户 was made with West's customer as its referrer (when both were East's), then given
    # another, and West's customer referred one more of East's
    newcomer = (await create_customer(SYSTEM, {"name": "新客户"}, west["customer"]))["id"]
    await Customer.filter(id=newcomer).update(team_id=east["team"])
    await set_referrer(SYSTEM, east["customer"], west["customer"])
    other = (await create_customer(SYSTEM, {"name": "东二"}))["id"]
    await Customer.filter(id=other).update(team_id=east["team"])
    await set_referrer(SYSTEM, east["customer"], other)
    auditor = as_user(await staff("auditor@example.com", ["audit.read", "customer.read"], "TEAM", east["team"]))

    def about(customer: int) -> dict:
        return {"f": {"entityId": to_global_id("Customer", customer)}}

    newcomers = [e["node"] for e in (await ask(auditor, SCOPED, about(newcomer)))["data"]["auditEvents"]["edges"]]
    easts = [e["node"] for e in (await ask(auditor, SCOPED, about(east["customer"])))["data"]["auditEvents"]["edges"]]

    assert [(e["action"], e["changes"]["referrer_id"]) for e in newcomers] == [("customer.create", {"from": None, "to": None})]
    assert [(e["action"], e["changes"].get("referrer_id")) for e in easts] == [
        ("customer.set_referrer", {"from": None, "to": other}),  # from West's: shown as the reader saw it, none
        ("customer.create", None),
    ]  # and setting West's customer as referrer is not there at all
