"""Staff, teams, roles and API tokens: who may act, and with which rights.

A role holds permission codes (models/permissions.py) and a data scope; a user's rights are
the union of their roles, the widest scope winning. Passwords and tokens are kept only as
hashes: argon2id for passwords, SHA-256 for tokens (random 256-bit secrets need no
stretching).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.errors import DomainError, ErrorCode
from models.passwords import MAX_LENGTH, check_policy, hash_password, verify_password
from models.permissions import PERMISSIONS, DataScope
from models.validation import clean_all, clean_choice, clean_email, clean_text, clean_utc

__all__ = [
    "LOCK_AFTER",
    "LOCK_FOR",
    "ApiToken",
    "Role",
    "Team",
    "User",
    "Viewer",
    "authenticate",
    "create_api_token",
    "create_role",
    "create_team",
    "create_user",
    "move_team",
    "revoke_api_token",
    "viewer_for_token",
]

LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
TOKEN_PREFIX = "kehu_"


class Team(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=100)
    parent = fields.ForeignKeyField("models.Team", related_name="children", null=True, on_delete=fields.RESTRICT)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "team"


class Role(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    description = fields.CharField(max_length=500, default="")
    permissions = fields.JSONField(default=list)
    data_scope = fields.CharEnumField(DataScope, max_length=20, default=DataScope.OWN)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "role"


class User(Model):
    id = fields.BigIntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    display_name = fields.CharField(max_length=100)
    password_hash = fields.CharField(max_length=200)
    team = fields.ForeignKeyField("models.Team", related_name="members", null=True, on_delete=fields.SET_NULL)
    roles = fields.ManyToManyField("models.Role", related_name="users", through="user_role")
    is_active = fields.BooleanField(default=True)
    is_superuser = fields.BooleanField(default=False)
    last_login_at = fields.DatetimeField(null=True)
    failed_logins = fields.IntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "staff_user"


class ApiToken(Model):
    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="tokens", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=100)
    token_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "api_token"


@dataclass(frozen=True)
class Viewer:
    """Who is asking: a user's id, team, rights and widest scope."""

    user_id: int
    team_id: int | None
    permissions: frozenset[str]
    scope: DataScope
    token_id: int | None = None

    def can(self, code: str) -> bool:
        return code in self.permissions


async def _viewer(user: User, token_id: int | None = None) -> Viewer:
    roles = await user.roles.all()
    if user.is_superuser:
        permissions, scope = frozenset(PERMISSIONS), DataScope.ALL
    else:
        permissions = frozenset(code for role in roles for code in role.permissions)
        scope = max((DataScope(role.data_scope) for role in roles), key=lambda s: s.breadth, default=DataScope.OWN)
    return Viewer(user.id, user.team_id, permissions, scope, token_id)


async def _team_or_not_found(team_id: int | None, field: str) -> Team | None:
    if team_id is None:
        return None
    team = await Team.get_or_none(id=team_id)
    if team is None:
        raise DomainError.single(field, "no such team.", ErrorCode.NOT_FOUND)
    return team


async def create_team(name: str, parent_id: int | None = None) -> Team:
    name = clean_text(name, "name", max_length=100, required=True)
    await _team_or_not_found(parent_id, "parentId")
    return await Team.create(name=name, parent_id=parent_id)


async def move_team(team_id: int, parent_id: int | None) -> Team:
    """Put a team under another; a team cannot sit below itself."""
    async with in_transaction() as connection:
        team = await Team.get_or_none(id=team_id).using_db(connection)
        if team is None:
            raise DomainError.single("id", "no such team.", ErrorCode.NOT_FOUND)
        ancestor = await _team_or_not_found(parent_id, "parentId")
        while ancestor is not None:
            if ancestor.id == team_id:
                raise DomainError.single("parentId", "a team cannot sit below itself.", ErrorCode.CYCLE)
            ancestor = await Team.get_or_none(id=ancestor.parent_id).using_db(connection) if ancestor.parent_id else None
        team.parent_id = parent_id
        await team.save(using_db=connection, update_fields=["parent_id"])
    return team


def _permission_codes(codes: list[str]) -> list[str]:
    unknown = sorted(set(codes) - set(PERMISSIONS))
    if unknown:
        raise DomainError.single("permissions", f"unknown permission codes: {', '.join(unknown[:5])}.", ErrorCode.INVALID)
    return sorted(set(codes))


async def create_role(name: str, permissions: list[str], data_scope: Any, description: str | None = None) -> Role:
    values = clean_all(
        {
            "name": lambda _: clean_text(name, "name", max_length=100, required=True),
            "description": lambda _: clean_text(description, "description", max_length=500) or "",
            "permissions": lambda _: _permission_codes(permissions),
            "data_scope": lambda _: clean_choice(data_scope, DataScope, "dataScope", required=True),
        }
    )
    try:
        return await Role.create(**values)
    except IntegrityError:
        raise DomainError.single("name", "a role with this name exists.", ErrorCode.DUPLICATE) from None


async def create_user(
    email: str,
    display_name: str,
    password: str,
    team_id: int | None = None,
    role_ids: list[int] = (),
    is_superuser: bool = False,
) -> User:
    values = clean_all(
        {
            "email": lambda _: clean_email(email) or clean_text(None, "email", max_length=254, required=True),
            "display_name": lambda _: clean_text(display_name, "displayName", max_length=100, required=True),
            "password": lambda _: check_policy(password),
        }
    )
    await _team_or_not_found(team_id, "teamId")
    roles = await Role.filter(id__in=list(role_ids))
    if len(roles) != len(set(role_ids)):
        raise DomainError.single("roleIds", "no such role.", ErrorCode.NOT_FOUND)
    password_hash = await hash_password(values.pop("password"))
    try:
        async with in_transaction() as connection:
            user = await User.create(
                using_db=connection, password_hash=password_hash, team_id=team_id, is_superuser=is_superuser, **values
            )
            if roles:
                await user.roles.add(*roles, using_db=connection)
    except IntegrityError:
        raise DomainError.single("email", "a user with this email exists.", ErrorCode.DUPLICATE) from None
    return user


_DUMMY_HASH: str | None = None
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def _locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


async def authenticate(email: str, password: str) -> Viewer | None:
    """The viewer for a right email and password; None for anything else, alike in answer and time.

    Five failures lock the account for 15 minutes. An unknown email is checked against a
    dummy hash so that it takes as long as a known one.
    """
    global _DUMMY_HASH
    address = (email or "").strip().lower()[:254]
    password = (password or "")[:MAX_LENGTH * 8]
    usable = address and not _UNSAFE.search(address)
    user = await User.get_or_none(email=address, is_active=True) if usable else None
    now = datetime.now(UTC)
    if user is None or _locked(user, now):
        if _DUMMY_HASH is None:
            _DUMMY_HASH = await hash_password(secrets.token_urlsafe(24))
        await verify_password(_DUMMY_HASH, password)
        return None
    matches, needs_rehash = await verify_password(user.password_hash, password)
    if not matches:
        # Counted in the database, so that parallel guesses cannot overwrite each other's count.
        await User.filter(id=user.id).update(failed_logins=F("failed_logins") + 1)
        if (await User.get(id=user.id)).failed_logins >= LOCK_AFTER:
            await User.filter(id=user.id).update(failed_logins=0, locked_until=now + LOCK_FOR)
        return None
    user = await User.get(id=user.id)
    if _locked(user, now):  # locked by guesses that ran while this check did
        return None
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    update = ["failed_logins", "locked_until", "last_login_at"]
    if needs_rehash:
        user.password_hash = await hash_password(password)
        update.append("password_hash")
    await user.save(update_fields=update)
    return await _viewer(user)


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_api_token(user_id: int, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """A new token and its secret; the secret is shown this once and never stored."""
    values = clean_all(
        {
            "name": lambda _: clean_text(name, "name", max_length=100, required=True),
            "expires_at": lambda _: clean_utc(expires_at, "expiresAt"),
        }
    )
    if values["expires_at"] is not None and values["expires_at"] <= datetime.now(UTC):
        raise DomainError.single("expiresAt", "a token cannot expire in the past.", ErrorCode.INVALID)
    if not await User.filter(id=user_id, is_active=True).exists():
        raise DomainError.single("userId", "no such active user.", ErrorCode.NOT_FOUND)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = await ApiToken.create(user_id=user_id, token_hash=_token_hash(secret), **values)
    return token, secret


async def revoke_api_token(token_id: int) -> ApiToken:
    token = await ApiToken.get_or_none(id=token_id)
    if token is None:
        raise DomainError.single("id", "no such token.", ErrorCode.NOT_FOUND)
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        await token.save(update_fields=["revoked_at"])
    return token


async def viewer_for_token(secret: str) -> Viewer | None:
    """The viewer a bearer token stands for, or None when it is unknown, revoked or expired."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = await ApiToken.get_or_none(token_hash=_token_hash(secret), revoked_at=None).select_related("user")
    now = datetime.now(UTC)
    if token is None or not token.user.is_active or (token.expires_at is not None and token.expires_at <= now):
        return None
    await ApiToken.filter(id=token.id).update(last_used_at=now)
    return await _viewer(token.user, token.id)
