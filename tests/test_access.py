"""Staff, teams, roles and tokens in the domain: passwords, lockout, scopes, token lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from models.access import LOCK_AFTER, AdminSession, ApiToken, Role, User, authenticate, viewer_of
from models.errors import DomainError, ErrorCode
from models.permissions import PERMISSIONS, DataScope
from models.scope import Scope
from models.sessions import csrf_token, end_session, start_session, viewer_for_session
from models.staff import (
    create_role,
    create_team,
    create_user,
    deactivate_user,
    delete_role,
    reset_password,
    role_ids_by_user,
    set_role_permission,
    update_role,
    update_team,
    update_user,
)
from models.throttle import PER_CLIENT, SignInThrottle
from models.tokens import MAX_OWN_TOKENS, create_api_token, issue_login_token, revoke_api_token, viewer_for_token

SYSTEM = Scope.of_system()

PASSWORD = "correct horse battery staple"


async def test_a_user_signs_in_with_email_in_any_case_and_gets_the_union_of_roles(clean_db):
    team = await create_team(SYSTEM, "华东销售")
    reader = await create_role(SYSTEM, "Reader", ["customer.read"], "TEAM")
    writer = await create_role(SYSTEM, "Writer", ["customer.create", "customer.read"], DataScope.OWN)
    user = await create_user(SYSTEM, "Li.Na@Example.com", "李娜", PASSWORD, team["id"], [reader["id"], writer["id"]])
    assert user["email"] == "li.na@example.com"
    stored = await User.get(id=user["id"])
    assert stored.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored.password_hash

    viewer = await authenticate("LI.NA@example.com", PASSWORD)
    assert viewer is not None
    assert viewer.permissions == {"customer.read", "customer.create"}
    assert viewer.scope is DataScope.TEAM
    assert viewer.team_id == team["id"]
    assert (await User.get(id=user["id"])).last_login_at is not None


@pytest.mark.parametrize(
    ("password", "code"),
    [("short one", ErrorCode.INVALID), ("x" * 129, ErrorCode.TOO_LONG), ("passwordpassword", ErrorCode.INVALID)],
)
async def test_weak_passwords_are_refused(clean_db, password, code):
    with pytest.raises(DomainError) as refused:
        await create_user(SYSTEM, "a@example.com", "A", password)
    assert refused.value.errors[0].field == "password"
    assert refused.value.errors[0].code is code
    assert await User.all().count() == 0


async def test_emails_are_unique_whatever_their_case(clean_db):
    await create_user(SYSTEM, "a@example.com", "A", PASSWORD)
    with pytest.raises(DomainError) as refused:
        await create_user(SYSTEM, "A@EXAMPLE.COM", "B", PASSWORD)
    assert refused.value.errors[0].code is ErrorCode.DUPLICATE


async def test_five_failures_lock_the_account_and_the_answer_stays_the_same(clean_db):
    user = await create_user(SYSTEM, "a@example.com", "A", PASSWORD)
    for _ in range(LOCK_AFTER):
        assert await authenticate("a@example.com", "wrong password entirely") is None
    locked = await User.get(id=user["id"])
    assert locked.locked_until is not None and locked.locked_until > datetime.now(UTC)
    assert await authenticate("a@example.com", PASSWORD) is None  # right password, locked account
    assert await authenticate("nobody@example.com", PASSWORD) is None

    await User.filter(id=user["id"]).update(locked_until=datetime.now(UTC) - timedelta(seconds=1))
    assert await authenticate("a@example.com", PASSWORD) is not None


async def test_a_hash_with_older_parameters_is_upgraded_at_sign_in(clean_db):
    user = await create_user(SYSTEM, "a@example.com", "A", PASSWORD)
    old = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash(PASSWORD)
    await User.filter(id=user["id"]).update(password_hash=old)
    assert await authenticate("a@example.com", PASSWORD) is not None
    assert (await User.get(id=user["id"])).password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


async def test_roles_take_only_known_permission_codes_and_unique_names(clean_db):
    with pytest.raises(DomainError) as unknown:
        await create_role(SYSTEM, "R", ["customer.read", "customer.fly"], "ALL")
    assert "customer.fly" in unknown.value.errors[0].message
    await create_role(SYSTEM, "R", list(PERMISSIONS), "ALL")
    with pytest.raises(DomainError) as duplicate:
        await create_role(SYSTEM, "R", [], "OWN")
    assert duplicate.value.errors[0].code is ErrorCode.DUPLICATE


async def test_a_team_cannot_move_below_itself(clean_db):
    top = await create_team(SYSTEM, "Top")
    middle = await create_team(SYSTEM, "Middle", top["id"])
    bottom = await create_team(SYSTEM, "Bottom", middle["id"])
    with pytest.raises(DomainError) as cycle:
        await update_team(SYSTEM, top["id"], {"parent_id": bottom["id"]})
    assert cycle.value.errors[0].code is ErrorCode.CYCLE
    moved = await update_team(SYSTEM, bottom["id"], {"parent_id": top["id"]})
    assert moved["parent_id"] == top["id"]


async def test_a_token_carries_its_users_rights_in_one_statement(clean_db, count_statements):
    team = await create_team(SYSTEM, "Sales")
    reader = await create_role(SYSTEM, "Reader", ["customer.read"], "OWN")
    writer = await create_role(SYSTEM, "Writer", ["customer.read", "customer.create"], "TEAM")
    users = [
        await create_user(SYSTEM, "two@example.com", "Two roles", PASSWORD, team_id=team["id"], role_ids=[reader["id"], writer["id"]]),
        await create_user(SYSTEM, "none@example.com", "No role", PASSWORD),
    ]
    admin = await create_user(SYSTEM, "root@example.com", "Root", PASSWORD, is_superuser=True)
    for user_id in (users[0]["id"], users[1]["id"], admin["id"]):
        token, secret = await create_api_token(SYSTEM, user_id, "app")
        await viewer_for_token(secret)  # the first use records when the token was last used
        count_statements.statements.clear()
        viewer = await viewer_for_token(secret)
        assert len(count_statements.statements) == 1, count_statements.statements
        expected = await viewer_of(await User.get(id=user_id), token_id=token["id"])
        assert viewer == expected
    two, none, root = [await viewer_of(await User.get(email=e)) for e in ("two@example.com", "none@example.com", "root@example.com")]
    assert two.permissions == {"customer.read", "customer.create"} and two.scope is DataScope.TEAM and two.team_id == team["id"]
    assert none.permissions == frozenset() and none.scope is DataScope.OWN
    assert root.permissions == frozenset(PERMISSIONS) and root.scope is DataScope.ALL


async def test_a_token_acts_for_its_user_until_revoked_or_expired(clean_db):
    role = await create_role(SYSTEM, "Reader", ["customer.read"], "ALL")
    user = await create_user(SYSTEM, "a@example.com", "A", PASSWORD, role_ids=[role["id"]])
    token, secret = await create_api_token(SYSTEM, user["id"], "shop")
    stored = await ApiToken.get(id=token["id"])
    assert secret.startswith("kehu_") and secret not in stored.token_hash

    viewer = await viewer_for_token(secret)
    assert viewer is not None and viewer.user_id == user["id"] and viewer.can("customer.read")
    assert (await ApiToken.get(id=token["id"])).last_used_at is not None
    assert await viewer_for_token(secret + "x") is None

    await revoke_api_token(SYSTEM, token["id"])
    assert await viewer_for_token(secret) is None

    soon, soon_secret = await create_api_token(SYSTEM, user["id"], "mobile", datetime.now(UTC) + timedelta(hours=1))
    await ApiToken.filter(id=soon["id"]).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert await viewer_for_token(soon_secret) is None

    live, live_secret = await create_api_token(SYSTEM, user["id"], "again")
    await User.filter(id=user["id"]).update(is_active=False)
    assert await viewer_for_token(live_secret) is None


async def test_a_superuser_holds_every_permission_and_sees_everything(clean_db):
    await create_user(SYSTEM, "root@example.com", "Root", PASSWORD, is_superuser=True)
    viewer = await authenticate("root@example.com", PASSWORD)
    assert viewer.permissions == set(PERMISSIONS)
    assert viewer.scope is DataScope.ALL


async def test_parallel_wrong_guesses_still_lock_the_account(clean_db):
    import asyncio

    user = await create_user(SYSTEM, "a@example.com", "A", PASSWORD)
    await asyncio.gather(*(authenticate("a@example.com", f"wrong guess number {n}") for n in range(8)))
    assert (await User.get(id=user["id"])).locked_until is not None
    assert await authenticate("a@example.com", PASSWORD) is None


async def test_a_control_character_in_the_email_is_just_a_failed_sign_in(clean_db):
    assert await authenticate("m\x00@example.com", PASSWORD) is None


async def _viewer_with(permissions: list[str], scope: str = "ALL", team_id: int | None = None):
    role = await create_role(SYSTEM, f"granter {len(permissions)} {scope}", permissions, scope)
    user = await create_user(
        SYSTEM, f"granter{len(permissions)}{scope.lower()}@example.com", "G", PASSWORD, team_id, role_ids=[role["id"]]
    )
    return await Scope.for_viewer(await viewer_of(await User.get(id=user["id"])), "203.0.113.9")


async def test_nobody_grants_rights_they_do_not_hold(clean_db):
    team = (await create_team(SYSTEM, "Head office"))["id"]
    manager = await _viewer_with(["user.manage", "customer.read"], "TEAM", team)
    admin_role = await create_role(SYSTEM, "Admin", ["role.manage", "customer.read"], "ALL")
    wide_reader = await create_role(SYSTEM, "Everything reader", ["customer.read"], "ALL")
    narrow_reader = await create_role(SYSTEM, "Team reader", ["customer.read"], "TEAM")

    for role in (admin_role, wide_reader):  # a permission they lack; a scope wider than theirs
        with pytest.raises(DomainError) as refused:
            await create_user(manager, "new@example.com", "New", PASSWORD, team, role_ids=[role["id"]])
        assert refused.value.errors[0].code is ErrorCode.FORBIDDEN
    assert not await User.filter(email="new@example.com").exists()

    made = await create_user(manager, "new@example.com", "New", PASSWORD, team, role_ids=[narrow_reader["id"]])
    with pytest.raises(DomainError):
        await update_user(manager, made["id"], {"role_ids": [admin_role["id"]]})
    assert (await role_ids_by_user([made["id"]]))[made["id"]] == [narrow_reader["id"]]

    root = await create_user(SYSTEM, "root@example.com", "Root", PASSWORD, team, is_superuser=True)
    for attempt in (
        lambda: deactivate_user(manager, root["id"]),
        lambda: reset_password(manager, root["id"], "another long passphrase"),
        lambda: create_user(manager, "x@example.com", "X", PASSWORD, team, is_superuser=True),
    ):
        with pytest.raises(DomainError) as refused:
            await attempt()
        assert refused.value.errors[0].code is ErrorCode.FORBIDDEN
    assert (await User.get(id=root["id"])).is_active


async def test_role_editors_cannot_widen_a_role_past_their_own_rights(clean_db):
    editor = await _viewer_with(["role.manage", "customer.read"], "TEAM")
    role = await create_role(editor, "Readers", ["customer.read"], "OWN")
    with pytest.raises(DomainError):
        await set_role_permission(editor, role["id"], "customer.pii", True)
    with pytest.raises(DomainError):
        await update_role(editor, role["id"], {"data_scope": "ALL"})
    assert (await set_role_permission(editor, role["id"], "role.manage", True))["permissions"] == [
        "customer.read", "role.manage",
    ]
    stored = await Role.get(id=role["id"])
    assert stored.permissions == ["customer.read", "role.manage"] and stored.data_scope == DataScope.OWN


async def test_a_role_in_use_is_not_deleted(clean_db):
    role = await create_role(SYSTEM, "Readers", ["customer.read"], "OWN")
    user = await create_user(SYSTEM, "a@example.com", "A", PASSWORD, role_ids=[role["id"]])
    with pytest.raises(DomainError) as refused:
        await delete_role(SYSTEM, role["id"])
    assert refused.value.errors[0].code is ErrorCode.IN_USE
    assert await Role.filter(id=role["id"]).exists()
    await update_user(SYSTEM, user["id"], {"role_ids": []})
    await delete_role(SYSTEM, role["id"])
    assert not await Role.filter(id=role["id"]).exists()


async def test_deactivation_and_a_new_password_end_sessions_and_sign_in_tokens_at_once(clean_db):
    user = await create_user(SYSTEM, "a@example.com", "A", PASSWORD)
    secret, _ = await start_session("a@example.com", PASSWORD, "198.51.100.7", timedelta(hours=12))
    viewer = await authenticate("a@example.com", PASSWORD)
    _, login_secret = await issue_login_token(viewer, None)
    _, named_secret = await create_api_token(SYSTEM, user["id"], "shop integration")
    assert await viewer_for_session(secret, timedelta(minutes=30)) is not None

    await reset_password(SYSTEM, user["id"], "a brand new passphrase")
    assert await viewer_for_session(secret, timedelta(minutes=30)) is None
    assert await viewer_for_token(login_secret) is None
    assert await viewer_for_token(named_secret) is not None  # an integration's token is not a sign-in
    assert await authenticate("a@example.com", PASSWORD) is None
    assert await authenticate("a@example.com", "a brand new passphrase") is not None

    again, _ = await start_session("a@example.com", "a brand new passphrase", None, timedelta(hours=12))
    await deactivate_user(SYSTEM, user["id"])
    assert await viewer_for_session(again, timedelta(minutes=30)) is None
    assert await viewer_for_token(named_secret) is None
    assert await AdminSession.filter(user_id=user["id"], revoked_at=None).count() == 0


async def test_sessions_end_when_idle_too_long_or_too_old(clean_db):
    await create_user(SYSTEM, "a@example.com", "A", PASSWORD)
    secret, viewer = await start_session("a@example.com", PASSWORD, None, timedelta(hours=12))
    stored = await AdminSession.get(id=viewer.session_id)
    assert stored.key_hash != secret and len(stored.key_hash) == 64
    assert csrf_token(secret) == csrf_token(secret) != csrf_token(secret + "x")

    await AdminSession.filter(id=stored.id).update(last_seen_at=datetime.now(UTC) - timedelta(minutes=31))
    assert await viewer_for_session(secret, timedelta(minutes=30)) is None
    await AdminSession.filter(id=stored.id).update(
        last_seen_at=datetime.now(UTC), expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert await viewer_for_session(secret, timedelta(minutes=30)) is None

    fresh, fresh_viewer = await start_session("a@example.com", PASSWORD, None, timedelta(hours=12))
    await end_session(Scope(fresh_viewer))
    assert await viewer_for_session(fresh, timedelta(minutes=30)) is None


async def test_sign_in_tokens_are_capped_per_user(clean_db):
    await create_user(SYSTEM, "a@example.com", "A", PASSWORD)
    viewer = await authenticate("a@example.com", PASSWORD)
    secrets_ = [(await issue_login_token(viewer, None))[1] for _ in range(MAX_OWN_TOKENS + 2)]
    assert await ApiToken.filter(user_id=viewer.user_id, revoked_at=None).count() == MAX_OWN_TOKENS
    assert await viewer_for_token(secrets_[0]) is None
    assert await viewer_for_token(secrets_[-1]) is not None


async def test_a_token_manager_cannot_mint_a_token_for_someone_with_more_rights(clean_db):
    team = (await create_team(SYSTEM, "Head office"))["id"]
    manager = await _viewer_with(["token.manage"], "TEAM", team)
    root = await create_user(SYSTEM, "root@example.com", "Root", PASSWORD, team, is_superuser=True)
    with pytest.raises(DomainError) as refused:
        await create_api_token(manager, root["id"], "escalate")
    assert refused.value.errors[0].code is ErrorCode.FORBIDDEN
    assert await ApiToken.filter(user_id=root["id"]).count() == 0


async def test_sign_ins_from_one_address_are_throttled_before_any_hashing(clean_db):
    await create_user(SYSTEM, "a@example.com", "A", PASSWORD)
    for _ in range(PER_CLIENT):
        assert await authenticate("nobody@example.com", "wrong guess number x", "192.0.2.1") is None
    with pytest.raises(DomainError) as refused:
        await authenticate("a@example.com", PASSWORD, "192.0.2.1")  # even the right password
    assert refused.value.errors[0].code is ErrorCode.RATE_LIMITED
    assert await authenticate("a@example.com", PASSWORD, "192.0.2.2") is not None


async def test_a_full_queue_of_sign_ins_refuses_more_at_once():
    throttle = SignInThrottle(max_waiting=1)
    async with throttle.attempt("192.0.2.1"):
        with pytest.raises(DomainError) as refused:
            async with throttle.attempt("192.0.2.2"):
                pass
        assert refused.value.errors[0].code is ErrorCode.RATE_LIMITED
    async with throttle.attempt("192.0.2.2"):
        assert throttle.waiting == 1
