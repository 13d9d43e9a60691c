"""Who may act: staff, teams, roles, API tokens and admin sessions, and signing in.

A role holds permission codes (models/permissions.py) and a data scope; a user's rights are
the union of their roles, the widest scope winning. Passwords and secrets are kept only as
hashes: argon2id for passwords, SHA-256 for token and session secrets (random 256-bit
secrets need no stretching). The operations on these tables live in staff.py (teams, roles,
users), tokens.py and sessions.py.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from tortoise import fields
from tortoise.expressions import F
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.audit import record
from models.passwords import MAX_LENGTH, hash_password, verify_password
from models.permissions import DataScope
from models.throttle import sign_ins
from models.viewer import Viewer, rights

__all__ = [
    "LOCK_AFTER",
    "LOCK_FOR",
    "AdminSession",
    "ApiToken",
    "Role",
    "Team",
    "User",
    "authenticate",
    "secret_hash",
    "viewer_of",
]

LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)


class Team(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=100)
    parent = fields.ForeignKeyField("models.Team", related_name="children", null=True, on_delete=fields.RESTRICT)
    # Who is told when the team's complaints are escalated: a user's id, without a foreign key,
    # since a user belongs to a team and two tables naming each other cannot be created in order.
    # Users are deactivated, never deleted; the sweep tells an active lead only.
    lead_id = fields.BigIntField(null=True)
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
    language = fields.CharField(max_length=8, null=True)
    """The admin's language for this user (zh_CN or en); none: as the browser asks."""
    last_login_at = fields.DatetimeField(null=True)
    failed_logins = fields.IntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "staff_user"


# A bearer token for integrators and apps; ``name`` "login" marks one made by sign-in. (Comments,
# not docstrings, on models: Tortoise writes a docstring into the DDL as a table comment.)
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


# A signed-in admin browser. The cookie holds the secret; the row holds its hash.
class AdminSession(Model):
    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="sessions", on_delete=fields.CASCADE)
    key_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    client_ip = fields.CharField(max_length=45, null=True)

    class Meta:
        table = "admin_session"
        indexes = (("user_id", "revoked_at"),)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def viewer_of(user: User, token_id: int | None = None, session_id: int | None = None) -> Viewer:
    """The user's rights: every permission and ALL for a superuser, else the union of their roles."""
    roles = await user.roles.all()
    permissions, scope = rights(user.is_superuser, ((role.permissions, role.data_scope) for role in roles))
    return Viewer(user.id, user.team_id, permissions, scope, token_id, session_id)


_DUMMY_HASH: str | None = None
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def _locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


async def authenticate(email: str, password: str, client_ip: str | None = None) -> Viewer | None:
    """The viewer for a right email and password; None for anything else, alike in answer and time.

    Five failures lock the account for 15 minutes. An unknown email is checked against a
    dummy hash so that it takes as long as a known one. Too many attempts from one address,
    or too many at once, are refused (RATE_LIMITED) before any hashing.
    """
    async with sign_ins.attempt(client_ip):
        return await _check(email, password, client_ip)


async def _check(email: str, password: str, client_ip: str | None) -> Viewer | None:
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
            async with in_transaction() as connection:
                await User.filter(id=user.id).using_db(connection).update(failed_logins=0, locked_until=now + LOCK_FOR)
                await record(None, "user.lock", "user", user.id, connection=connection, actor_user_id=user.id, client_ip=client_ip)
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
    return await viewer_of(user)


