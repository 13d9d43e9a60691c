"""Staff, teams, roles and tokens in the domain: passwords, lockout, scopes, token lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from models.access import LOCK_AFTER, ApiToken, User, authenticate
from models.errors import DomainError, ErrorCode
from models.permissions import PERMISSIONS, DataScope
from models.scope import Scope
from models.staff import create_role, create_team, create_user, update_team
from models.tokens import create_api_token, revoke_api_token, viewer_for_token

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
