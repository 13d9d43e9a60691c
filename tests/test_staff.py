"""Staff administration over GraphQL: users, roles, teams, tokens; data in the answer and in the database."""

from __future__ import annotations

import hashlib

import pytest

from models.access import ApiToken, Role, Team, User
from models.permissions import PERMISSIONS
from models.scope import Scope
from models.staff import create_role
from schema.ids import to_global_id
from tests.conftest import bearer_for

PASSWORD = "correct horse battery staple"
CREATE_USER = """mutation($input: CreateUserInput!) { createUser(input: $input) {
  user { id email displayName isActive team { name } roles { name } } errors { field code message } } }"""
CREATE_ROLE = """mutation($input: CreateRoleInput!) { createRole(input: $input) {
  role { id name permissions dataScope userCount } errors { field code } } }"""
CREATE_TEAM = """mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id name parent { name } } errors { field code } } }"""
UPDATE_TEAM = """mutation($input: UpdateTeamInput!) { updateTeam(input: $input) { team { name parent { name } } errors { field code } } }"""
LOGIN = """mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token errors { code } } }"""
ME = "{ me { email permissions } }"


async def _make_user(gql, email="li.na@example.com", **extra):
    team = (await gql.data(CREATE_TEAM, {"input": {"name": "华东"}}))["createTeam"]["team"]
    role = (await gql.data(CREATE_ROLE, {"input": {"name": f"Sales {email}", "permissions": ["customer.read"], "dataScope": "TEAM"}}))["createRole"]["role"]
    made = await gql.data(CREATE_USER, {"input": {
        "email": email, "displayName": "李娜", "password": PASSWORD, "teamId": team["id"], "roleIds": [role["id"]], **extra,
    }})
    return made["createUser"], team, role


async def test_create_a_user_with_team_and_roles(gql):
    result, team, role = await _make_user(gql, "Li.Na@Example.com")
    assert result["errors"] == []
    assert result["user"] == {
        "id": result["user"]["id"], "email": "li.na@example.com", "displayName": "李娜", "isActive": True,
        "team": {"name": "华东"}, "roles": [{"name": "Sales Li.Na@Example.com"}],
    }
    stored = await User.get(email="li.na@example.com")
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
    assert [r.id for r in await stored.roles.all()] == [int(await _pk(role["id"]))]
    users = await gql.data("{ users(filter: {search: \"li.na\"}) { totalCount edges { node { email roles { userCount } } } } }")
    assert users["users"] == {"totalCount": 1, "edges": [{"node": {"email": "li.na@example.com", "roles": [{"userCount": 1}]}}]}


async def _pk(global_id: str) -> int:
    from schema.ids import from_global_id

    return from_global_id(global_id, "id")[1]


@pytest.mark.parametrize(
    ("extra", "field", "code"),
    [
        ({"password": "short"}, "password", "INVALID"),
        ({"password": "passwordpassword"}, "password", "INVALID"),
        ({"email": "not an email"}, "email", "INVALID"),
        ({"roleIds": ["bm90IGFuIGlk"]}, "roleIds", "INVALID"),
        ({"teamId": to_global_id("Team", 999999)}, "teamId", "NOT_FOUND"),
        ({"teamId": to_global_id("Customer", 1)}, "teamId", "NOT_FOUND"),
    ],
)
async def test_bad_user_input_is_refused_and_changes_nothing(gql, extra, field, code):
    body = await gql(CREATE_USER, {"input": {"email": "a@example.com", "displayName": "A", "password": PASSWORD, **extra}})
    errors = body["data"]["createUser"]["errors"]
    assert errors[0]["field"] == field and errors[0]["code"] == code, errors
    assert body["data"]["createUser"]["user"] is None
    assert not await User.filter(email="a@example.com").exists()


async def test_a_deactivated_user_is_shut_out_at_once_and_a_new_password_ends_sign_in_tokens(gql, client):
    result, _, _ = await _make_user(gql)
    user_id = result["user"]["id"]
    token = (await gql.data(LOGIN, {"e": "li.na@example.com", "p": PASSWORD}))["login"]["token"]
    as_user = {"authorization": f"Bearer {token}"}
    assert (await client.post("/graphql", json={"query": ME}, headers=as_user)).json()["data"]["me"]["email"] == "li.na@example.com"

    reset = await gql.data('mutation($id: ID!) { resetPassword(input: {id: $id, password: "a fresh long passphrase"}) { errors { code } } }', {"id": user_id})
    assert reset["resetPassword"]["errors"] == []
    assert (await client.post("/graphql", json={"query": ME}, headers=as_user)).status_code == 401
    assert (await gql.data(LOGIN, {"e": "li.na@example.com", "p": PASSWORD}))["login"]["errors"] == [{"code": "INVALID"}]

    token = (await gql.data(LOGIN, {"e": "li.na@example.com", "p": "a fresh long passphrase"}))["login"]["token"]
    off = await gql.data("mutation($id: ID!) { deactivateUser(input: {id: $id}) { user { isActive } errors { code } } }", {"id": user_id})
    assert off["deactivateUser"] == {"user": {"isActive": False}, "errors": []}
    assert (await client.post("/graphql", json={"query": ME}, headers={"authorization": f"Bearer {token}"})).status_code == 401
    assert not (await User.get(email="li.na@example.com")).is_active


async def test_update_user_replaces_roles_and_moves_team(gql):
    result, team, role = await _make_user(gql)
    other = (await gql.data(CREATE_ROLE, {"input": {"name": "Analyst", "permissions": ["customer.read", "customer.pii"], "dataScope": "ALL"}}))["createRole"]["role"]
    changed = await gql.data(
        "mutation($input: UpdateUserInput!) { updateUser(input: $input) { user { displayName team { name } roles { name } } errors { code } } }",
        {"input": {"id": result["user"]["id"], "displayName": "Li Na", "teamId": None, "roleIds": [other["id"]]}},
    )
    assert changed["updateUser"] == {"user": {"displayName": "Li Na", "team": None, "roles": [{"name": "Analyst"}]}, "errors": []}
    stored = await User.get(email="li.na@example.com")
    assert stored.team_id is None and [r.name for r in await stored.roles.all()] == ["Analyst"]


async def test_a_role_in_use_cannot_be_deleted_until_nobody_holds_it(gql):
    result, _, role = await _make_user(gql)
    delete = "mutation($id: ID!) { deleteRole(input: {id: $id}) { deletedId errors { code message } } }"
    refused = (await gql.data(delete, {"id": role["id"]}))["deleteRole"]
    assert refused["deletedId"] is None and refused["errors"][0]["code"] == "IN_USE"
    assert await Role.filter(id=await _pk(role["id"])).exists()
    await gql.data("mutation($id: ID!) { updateUser(input: {id: $id, roleIds: []}) { errors { code } } }", {"id": result["user"]["id"]})
    assert (await gql.data(delete, {"id": role["id"]}))["deleteRole"] == {"deletedId": role["id"], "errors": []}
    assert not await Role.filter(id=await _pk(role["id"])).exists()


async def test_roles_take_only_known_codes_and_updates_replace_the_set(gql):
    bad = await gql.data(CREATE_ROLE, {"input": {"name": "R", "permissions": ["customer.fly"], "dataScope": "OWN"}})
    assert bad["createRole"]["errors"] == [{"field": "permissions", "code": "INVALID"}]
    assert await Role.all().count() == 0
    role = (await gql.data(CREATE_ROLE, {"input": {"name": "R", "permissions": ["customer.read"], "dataScope": "OWN"}}))["createRole"]["role"]
    updated = await gql.data(
        "mutation($id: ID!) { updateRole(input: {id: $id, permissions: [\"customer.read\", \"order.create\"], dataScope: TEAM}) { role { permissions dataScope } errors { code } } }",
        {"id": role["id"]},
    )
    assert updated["updateRole"]["role"] == {"permissions": ["customer.read", "order.create"], "dataScope": "TEAM"}
    stored = await Role.get(name="R")
    assert stored.permissions == ["customer.read", "order.create"] and stored.data_scope == "team"
    codes = (await gql.data("{ permissionCodes { code description } }"))["permissionCodes"]
    assert {"code": "audit.read", "description": PERMISSIONS["audit.read"]} in codes and len(codes) == len(PERMISSIONS) == 22


async def test_teams_nest_and_cannot_move_below_themselves(gql):
    top = (await gql.data(CREATE_TEAM, {"input": {"name": "Top"}}))["createTeam"]["team"]
    middle = (await gql.data(CREATE_TEAM, {"input": {"name": "Middle", "parentId": top["id"]}}))["createTeam"]["team"]
    assert middle["parent"] == {"name": "Top"}
    cycle = await gql.data(UPDATE_TEAM, {"input": {"id": top["id"], "parentId": middle["id"]}})
    assert cycle["updateTeam"] == {"team": None, "errors": [{"field": "parentId", "code": "CYCLE"}]}
    assert (await Team.get(name="Top")).parent_id is None
    moved = await gql.data(UPDATE_TEAM, {"input": {"id": middle["id"], "parentId": None, "name": "Middle East"}})
    assert moved["updateTeam"] == {"team": {"name": "Middle East", "parent": None}, "errors": []}
    listed = await gql.data("{ teams { totalCount edges { node { name } } } }")
    assert listed["teams"] == {"totalCount": 2, "edges": [{"node": {"name": "Middle East"}}, {"node": {"name": "Top"}}]}


async def test_a_token_is_shown_once_kept_as_a_hash_and_revoked_for_the_next_request(gql, client):
    result, _, _ = await _make_user(gql)
    made = await gql.data(
        "mutation($u: ID!) { createApiToken(input: {name: \"shop\", userId: $u}) { token apiToken { id name user { email } revokedAt } errors { code } } }",
        {"u": result["user"]["id"]},
    )
    secret, record = made["createApiToken"]["token"], made["createApiToken"]["apiToken"]
    assert secret.startswith("kehu_") and record["name"] == "shop" and record["user"] == {"email": "li.na@example.com"}
    stored = await ApiToken.get(id=await _pk(record["id"]))
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    listed = await gql.data("query($u: ID!) { apiTokens(userId: $u) { totalCount edges { node { name } } } }", {"u": result["user"]["id"]})
    assert listed["apiTokens"] == {"totalCount": 1, "edges": [{"node": {"name": "shop"}}]}
    assert "kehu_" not in str(listed)

    as_token = {"authorization": f"Bearer {secret}"}
    assert (await client.post("/graphql", json={"query": ME}, headers=as_token)).status_code == 200
    revoked = await gql.data("mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { revokedAt } errors { code } } }", {"id": record["id"]})
    assert revoked["revokeApiToken"]["apiToken"]["revokedAt"] is not None
    assert (await client.post("/graphql", json={"query": ME}, headers=as_token)).status_code == 401


async def test_logout_revokes_the_token_of_the_request(gql, client):
    await _make_user(gql)
    token = (await gql.data(LOGIN, {"e": "li.na@example.com", "p": PASSWORD}))["login"]["token"]
    headers = {"authorization": f"Bearer {token}"}
    out = (await client.post("/graphql", json={"query": "mutation { logout { revoked errors { code } } }"}, headers=headers)).json()
    assert out["data"]["logout"] == {"revoked": True, "errors": []}
    assert (await client.post("/graphql", json={"query": ME}, headers=headers)).status_code == 401


async def test_a_user_manager_cannot_grant_what_they_do_not_hold(clean_db, settings):
    import httpx

    from server.app import create_app

    wide = await create_role(Scope.of_system(), "Admin", ["role.manage", "customer.read"], "ALL")
    narrow = await create_role(Scope.of_system(), "Manager", ["user.manage", "customer.read"], "TEAM")
    headers = await bearer_for("manager@example.com")
    manager = await User.get(email="manager@example.com")
    await manager.roles.add(await Role.get(id=narrow["id"]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://kehu.test", headers=headers) as http:
        body = (await http.post("/graphql", json={"query": CREATE_USER, "variables": {"input": {
            "email": "x@example.com", "displayName": "X", "password": PASSWORD, "roleIds": [to_global_id("Role", wide["id"])],
        }}})).json()
    assert body["data"]["createUser"]["errors"][0]["code"] == "FORBIDDEN"
    assert not await User.filter(email="x@example.com").exists()


async def test_every_new_type_is_a_node(gql):
    result, team, role = await _make_user(gql)
    found = await gql.data(
        "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }", {"ids": [result["user"]["id"], team["id"], role["id"]]}
    )
    assert [n["__typename"] for n in found["nodes"]] == ["User", "Team", "Role"]
