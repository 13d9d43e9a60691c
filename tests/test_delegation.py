"""Delegated administration stays inside its reach: a manager with TEAM or TEAM_AND_SUBTEAMS scope
acts only on the users, tokens and teams of its own team set; only ALL scope reaches across."""

from __future__ import annotations

import pytest

from models.access import ApiToken, Role, Team, User
from models.customers import Customer, create_customer
from models.scope import Scope
from models.staff import create_role, create_team, create_user
from models.tokens import create_api_token
from schema.ids import to_global_id
from tests.conftest import PASSWORD, ask, bearer_for_user, staff

SYSTEM = Scope.of_system()
READER = ["customer.read"]


def gid(type_name: str, pk: int) -> str:
    return to_global_id(type_name, pk)


@pytest.fixture
async def org(clean_db) -> dict:
    """East with its sub-team Shanghai, and West; in each a reader with a live token and a customer;
    a superuser in East."""
    east = (await create_team(SYSTEM, "East"))["id"]
    shanghai = (await create_team(SYSTEM, "Shanghai", east))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    reader = await create_role(SYSTEM, "Reader", READER, "TEAM")
    people = {"east": east, "shanghai": shanghai, "west": west, "reader_role": reader["id"]}
    for name, team in (("east", east), ("shanghai", shanghai), ("west", west)):
        user = await create_user(SYSTEM, f"{name}@example.com", name, PASSWORD, team, [reader["id"]])
        token, _ = await create_api_token(SYSTEM, user["id"], f"{name} shop")
        customer = await create_customer(SYSTEM, {"name": f"{name} customer"})
        await Customer.filter(id=customer["id"]).update(team_id=team)
        people[f"{name}_user"], people[f"{name}_token"] = user["id"], token["id"]
    root = await create_user(SYSTEM, "root@example.com", "root", PASSWORD, east, is_superuser=True)
    people["root_token"] = (await create_api_token(SYSTEM, root["id"], "root's"))[0]["id"]
    return people


async def manager(as_user, permissions: list[str], scope: str, team: int):
    headers = await staff(f"manager-{scope.lower()}@example.com", [*permissions, *READER], scope, team)
    return as_user(headers), (await User.get(email=f"manager-{scope.lower()}@example.com")).id


async def codes(answer: dict, field: str) -> list[str]:
    assert "errors" not in answer, answer
    return [e["code"] for e in answer["data"][field]["errors"]]


# token.manage

MINT = "mutation($u: ID!) { createApiToken(input: {name: \"x\", userId: $u}) { token errors { code } } }"
REVOKE = "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { revokedAt } errors { code } } }"
TOKENS = "{ apiTokens(first: 100) { totalCount edges { node { name user { email } } } } }"


async def test_a_token_manager_mints_no_token_for_another_team(org, as_user):
    http, _ = await manager(as_user, ["token.manage"], "TEAM", org["east"])

    refused = await ask(http, MINT, {"u": gid("User", org["west_user"])})

    assert await codes(refused, "createApiToken") == ["NOT_FOUND"] and refused["data"]["createApiToken"]["token"] is None
    assert await ApiToken.filter(user_id=org["west_user"]).count() == 1
    allowed = await ask(http, MINT, {"u": gid("User", org["east_user"])})
    assert await codes(allowed, "createApiToken") == []


async def test_a_token_manager_lists_and_revokes_only_within_reach(org, as_user):
    http, _ = await manager(as_user, ["token.manage"], "TEAM", org["east"])

    listed = (await ask(http, TOKENS))["data"]["apiTokens"]

    names = sorted(edge["node"]["name"] for edge in listed["edges"])
    assert names == ["east shop", "tests"] and listed["totalCount"] == 2  # East's reader's, and its own
    for token in (org["west_token"], org["root_token"], org["shanghai_token"]):  # another team, more rights, a sub-team
        assert await codes(await ask(http, REVOKE, {"id": gid("ApiToken", token)}), "revokeApiToken") == ["NOT_FOUND"]
        assert (await ApiToken.get(id=token)).revoked_at is None
    assert await codes(await ask(http, REVOKE, {"id": gid("ApiToken", org["east_token"])}), "revokeApiToken") == []


async def test_without_token_manage_one_sees_and_revokes_ones_own_tokens(org, as_user):
    http = as_user(await bearer_for_user(org["west_user"]))
    listed = (await ask(http, TOKENS))["data"]["apiTokens"]
    assert sorted(e["node"]["name"] for e in listed["edges"]) == ["tests", "west shop"]
    assert await codes(await ask(http, REVOKE, {"id": gid("ApiToken", org["east_token"])}), "revokeApiToken") == ["NOT_FOUND"]
    assert await codes(await ask(http, REVOKE, {"id": gid("ApiToken", org["west_token"])}), "revokeApiToken") == []


# user.manage

UPDATE_USER = "mutation($id: ID!, $team: ID) { updateUser(input: {id: $id, teamId: $team}) { user { id } errors { field code } } }"
RESET = "mutation($id: ID!) { resetPassword(input: {id: $id, password: \"a brand new passphrase\"}) { errors { code } } }"
CREATE_USER = """mutation($team: ID) { createUser(input: {email: "new@example.com", displayName: "N",
  password: "correct horse battery staple", teamId: $team}) { user { id } errors { field code } } }"""


async def test_a_user_manager_cannot_move_itself_to_another_team(org, as_user):
    http, me = await manager(as_user, ["user.manage"], "TEAM", org["east"])
    for team in (org["west"], org["shanghai"]):
        answer = await ask(http, UPDATE_USER, {"id": gid("User", me), "team": gid("Team", team)})
        assert await codes(answer, "updateUser") == ["FORBIDDEN"]
    assert (await User.get(id=me)).team_id == org["east"]
    # nor see another team's customers by any other path
    assert (await ask(http, "{ customers { totalCount } }"))["data"]["customers"]["totalCount"] == 1


async def test_a_user_manager_cannot_reset_a_password_in_another_team(org, as_user):
    http, _ = await manager(as_user, ["user.manage"], "TEAM", org["east"])
    before = (await User.get(id=org["west_user"])).password_hash

    answer = await ask(http, RESET, {"id": gid("User", org["west_user"])})

    assert await codes(answer, "resetPassword") == ["NOT_FOUND"]
    assert (await User.get(id=org["west_user"])).password_hash == before
    login = "mutation { login(input: {email: \"west@example.com\", password: \"a brand new passphrase\"}) { token } }"
    assert (await ask(as_user(), login))["data"]["login"]["token"] is None
    assert await codes(await ask(http, RESET, {"id": gid("User", org["east_user"])}), "resetPassword") == []


async def test_a_user_manager_lists_places_and_moves_staff_only_within_its_teams(org, as_user):
    http, _ = await manager(as_user, ["user.manage"], "TEAM", org["east"])
    users = (await ask(http, "{ users(first: 100) { totalCount edges { node { email } } } }"))["data"]["users"]
    assert sorted(e["node"]["email"] for e in users["edges"]) == ["east@example.com", "manager-team@example.com", "root@example.com"]
    assert users["totalCount"] == 3

    assert await codes(await ask(http, CREATE_USER, {"team": gid("Team", org["west"])}), "createUser") == ["NOT_FOUND"]
    assert await codes(await ask(http, CREATE_USER, {"team": None}), "createUser") == ["FORBIDDEN"]
    moved = await ask(http, UPDATE_USER, {"id": gid("User", org["east_user"]), "team": gid("Team", org["west"])})
    assert await codes(moved, "updateUser") == ["NOT_FOUND"]
    assert (await User.get(id=org["east_user"])).team_id == org["east"]
    assert not await User.filter(email="new@example.com").exists()
    assert await codes(await ask(http, CREATE_USER, {"team": gid("Team", org["east"])}), "createUser") == []


# role.manage

UPDATE_TEAM = "mutation($id: ID!, $parent: ID) { updateTeam(input: {id: $id, parentId: $parent}) { team { id } errors { code } } }"
CREATE_TEAM = "mutation($parent: ID) { createTeam(input: {name: \"New\", parentId: $parent}) { team { id } errors { code } } }"


async def test_a_role_manager_cannot_pull_another_team_under_its_own(org, as_user):
    http, _ = await manager(as_user, ["role.manage"], "TEAM_AND_SUBTEAMS", org["east"])

    answer = await ask(http, UPDATE_TEAM, {"id": gid("Team", org["west"]), "parent": gid("Team", org["east"])})

    assert await codes(answer, "updateTeam") == ["NOT_FOUND"]
    assert (await Team.get(id=org["west"])).parent_id is None
    assert (await ask(http, "{ customers { totalCount } }"))["data"]["customers"]["totalCount"] == 2  # East and Shanghai


async def test_a_role_manager_shapes_only_its_own_subtree(org, as_user):
    http, _ = await manager(as_user, ["role.manage"], "TEAM_AND_SUBTEAMS", org["east"])
    teams = (await ask(http, "{ teams { totalCount edges { node { name } } } }"))["data"]["teams"]
    assert sorted(e["node"]["name"] for e in teams["edges"]) == ["East", "Shanghai"] and teams["totalCount"] == 2

    assert await codes(await ask(http, CREATE_TEAM, {"parent": None}), "createTeam") == ["FORBIDDEN"]
    assert await codes(await ask(http, CREATE_TEAM, {"parent": gid("Team", org["west"])}), "createTeam") == ["NOT_FOUND"]
    out = await ask(http, UPDATE_TEAM, {"id": gid("Team", org["shanghai"]), "parent": None})
    assert await codes(out, "updateTeam") == ["FORBIDDEN"]
    assert not await Team.filter(name="New").exists() and (await Team.get(id=org["shanghai"])).parent_id == org["east"]
    made = await ask(http, CREATE_TEAM, {"parent": gid("Team", org["shanghai"])})
    assert await codes(made, "createTeam") == []


async def test_a_role_held_outside_the_managers_reach_is_not_its_to_change(org, as_user):
    http, _ = await manager(as_user, ["role.manage"], "TEAM_AND_SUBTEAMS", org["east"])
    update = "mutation($id: ID!) { updateRole(input: {id: $id, permissions: []}) { errors { code } } }"

    answer = await ask(http, update, {"id": gid("Role", org["reader_role"])})  # West's reader holds it too

    assert await codes(answer, "updateRole") == ["FORBIDDEN"]
    assert (await Role.get(id=org["reader_role"])).permissions == READER
    east_only = await create_role(SYSTEM, "East desk", READER, "TEAM")
    await (await User.get(id=org["shanghai_user"])).roles.add(await Role.get(id=east_only["id"]))
    assert await codes(await ask(http, update, {"id": gid("Role", east_only["id"])}), "updateRole") == []


async def test_a_manager_with_all_scope_reaches_across_teams(org, as_user):
    permissions = ["user.manage", "role.manage", "token.manage"]
    http, _ = await manager(as_user, permissions, "ALL", org["east"])
    assert await codes(await ask(http, MINT, {"u": gid("User", org["west_user"])}), "createApiToken") == []
    assert await codes(await ask(http, RESET, {"id": gid("User", org["west_user"])}), "resetPassword") == []
    moved = await ask(http, UPDATE_TEAM, {"id": gid("Team", org["west"]), "parent": gid("Team", org["east"])})
    assert await codes(moved, "updateTeam") == []
    assert (await Team.get(id=org["west"])).parent_id == org["east"]
