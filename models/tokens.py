"""API tokens: made for a user, shown once, kept as a SHA-256 hash, revocable.

A token acts with its user's rights. Making one for somebody else needs ``token.manage``
and may not hand out more than the maker holds; sign-in makes one for oneself.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from models.access import ApiToken, Role, User, Viewer, rights, secret_hash, viewer_of
from models.audit import record
from models.errors import DomainError, ErrorCode
from models.pagination import Page, PageArgs, SortKey
from models.scope import Scope
from models.sql import Query, fetch
from models.validation import clean_all, clean_text, clean_utc

__all__ = [
    "LOGIN_TOKEN_LIFETIME",
    "MAX_LOGIN_TOKENS",
    "TOKEN_PREFIX",
    "count_api_tokens",
    "create_api_token",
    "issue_login_token",
    "list_api_tokens",
    "revoke_api_token",
    "tokens_by_ids",
    "user_id_for_email",
    "viewer_for_token",
]

TOKEN_PREFIX = "kehu_"
LOGIN_TOKEN_LIFETIME = timedelta(days=30)
MAX_LOGIN_TOKENS = 20
"""Sign-ins beyond this many live login tokens revoke the oldest: a flood of logins cannot grow the table."""

_TOUCH_EVERY = timedelta(minutes=1)
"""``last_used_at`` is precise to a minute: a token used all day costs one write a minute, not one a request."""
_COLUMNS = "t.id, t.user_id, t.name, t.expires_at, t.last_used_at, t.revoked_at, t.created_at"
_KEY = SortKey("t.created_at", "datetime", descending=True)


async def _insert(scope: Scope | None, user_id: int, name: str, expires_at: datetime | None, connection) -> tuple[dict[str, Any], str]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = await ApiToken.create(
        user_id=user_id, name=name, expires_at=expires_at, token_hash=secret_hash(secret), using_db=connection
    )
    row = {"id": token.id, "user_id": user_id, "name": name, "expires_at": expires_at,
           "last_used_at": None, "revoked_at": None, "created_at": token.created_at}
    await record(
        scope, "api_token.create", "api_token", token.id, after={"user_id": user_id, "name": name, "expires_at": expires_at},
        connection=connection,
    )
    return row, secret


async def create_api_token(scope: Scope, user_id: int, name: str, expires_at: datetime | None = None) -> tuple[dict[str, Any], str]:
    """A new token and its secret; the secret is shown this once and never stored."""
    scope.require("token.manage")
    values = clean_all(
        {
            "name": lambda _: clean_text(name, "name", max_length=100, required=True),
            "expires_at": lambda _: clean_utc(expires_at, "expiresAt"),
        }
    )
    if values["expires_at"] is not None and values["expires_at"] <= datetime.now(UTC):
        raise DomainError.single("expiresAt", "a token cannot expire in the past.", ErrorCode.INVALID)
    user = await User.get_or_none(id=user_id, is_active=True)
    if user is None:
        raise DomainError.single("userId", "no such active user.", ErrorCode.NOT_FOUND)
    holder = await viewer_of(user)
    if not scope.within(holder.permissions, holder.scope):
        raise DomainError.single(
            "userId", "this user holds rights you do not; a token for them would hand those out.", ErrorCode.FORBIDDEN
        )
    async with in_transaction() as connection:
        return await _insert(scope, user_id, values["name"], values["expires_at"], connection)


async def user_id_for_email(scope: Scope, email: str) -> int:
    """The active user a token is to be made for, named by email (for the admin's form)."""
    scope.require("token.manage")
    user_id = await User.filter(email=(email or "").strip().lower()[:254], is_active=True).first().values_list("id", flat=True)
    if user_id is None:
        raise DomainError.single("userId", "no active user has this email.", ErrorCode.NOT_FOUND)
    return user_id


async def issue_login_token(viewer: Viewer, client_ip: str | None) -> tuple[dict[str, Any], str]:
    """A 30-day token for a user who just signed in; their oldest login tokens past the cap are revoked."""
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        live = await (
            ApiToken.filter(user_id=viewer.user_id, name="login", revoked_at=None)
            .using_db(connection)
            .order_by("-created_at", "-id")
            .values_list("id", flat=True)
        )
        if len(live) >= MAX_LOGIN_TOKENS:
            await ApiToken.filter(id__in=live[MAX_LOGIN_TOKENS - 1:]).using_db(connection).update(revoked_at=now)
        scope = Scope(viewer, client_ip=client_ip)
        return await _insert(scope, viewer.user_id, "login", now + LOGIN_TOKEN_LIFETIME, connection)


async def revoke_api_token(scope: Scope, token_id: int) -> dict[str, Any]:
    """Revoke a token: with ``token.manage`` any, without it only the caller's own."""
    token = await ApiToken.get_or_none(id=token_id)
    viewer = scope.viewer
    own = token is not None and viewer is not None and token.user_id == viewer.user_id
    if not own:
        scope.require("token.manage")
    if token is None:
        raise DomainError.single("id", "no such token.", ErrorCode.NOT_FOUND)
    if token.revoked_at is None:
        async with in_transaction() as connection:
            token.revoked_at = datetime.now(UTC)
            await ApiToken.filter(id=token.id, revoked_at=None).using_db(connection).update(revoked_at=token.revoked_at)
            await record(scope, "api_token.revoke", "api_token", token.id,
                         before={"revoked_at": None}, after={"revoked_at": token.revoked_at}, connection=connection)
    return (await tokens_by_ids(Scope.of_system(), [token.id]))[token.id]


def _conditions(q: Query, user_id: int | None, live_only: bool) -> list[str]:
    conditions = ["1 = 1"]
    if user_id is not None:
        conditions.append(f"t.user_id = {q.param(user_id)}")
    if live_only:
        conditions.append("t.revoked_at IS NULL")
    return conditions


async def list_api_tokens(scope: Scope, user_id: int | None, args: PageArgs, *, live_only: bool = False) -> Page:
    """Tokens, newest first; of one user when ``user_id`` is given."""
    scope.require("token.manage")
    args = args.checked()
    q = Query()
    conditions = _conditions(q, user_id, live_only)
    if (keyset := args.keyset_condition(_KEY, q, "t")) is not None:
        conditions.append(keyset)
    sql = f"SELECT {_COLUMNS} FROM api_token t WHERE {' AND '.join(conditions)} ORDER BY {args.order_by(_KEY, 't')} LIMIT {args.size + 1}"
    return Page.from_rows(await fetch(sql, q, ApiToken), args, _KEY)


async def count_api_tokens(scope: Scope, user_id: int | None, *, live_only: bool = False) -> int:
    scope.require("token.manage")
    q = Query()
    rows = await fetch(f"SELECT COUNT(*) AS n FROM api_token t WHERE {' AND '.join(_conditions(q, user_id, live_only))}", q)
    return rows[0]["n"]


async def tokens_by_ids(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids or not scope.can("token.manage"):
        return {}
    q = Query()
    rows = await fetch(f"SELECT {_COLUMNS} FROM api_token t WHERE t.id IN {q.in_list(ids)}", q, ApiToken)
    return {row["id"]: row for row in rows}


async def viewer_for_token(secret: str) -> Viewer | None:
    """The viewer a bearer token stands for, or None when it is unknown, revoked or expired."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    # One statement for the token, its user and their roles: every API request pays for it.
    q = Query()
    rows = await fetch(
        "SELECT t.id, t.expires_at, t.last_used_at, u.id AS user_id, u.team_id, u.is_superuser,"
        " r.permissions, r.data_scope FROM api_token t JOIN staff_user u ON u.id = t.user_id"
        " LEFT JOIN user_role ur ON ur.staff_user_id = u.id LEFT JOIN role r ON r.id = ur.role_id"
        f" WHERE t.token_hash = {q.param(secret_hash(secret))} AND t.revoked_at IS NULL AND u.is_active",
        q,
        ApiToken,
    )
    now = datetime.now(UTC)
    if not rows or (rows[0]["expires_at"] is not None and rows[0]["expires_at"] <= now):
        return None
    token = rows[0]
    if token["last_used_at"] is None or now - token["last_used_at"] > _TOUCH_EVERY:
        await ApiToken.filter(id=token["id"]).update(last_used_at=now)
    decode = Role._meta.fields_map["permissions"].to_python_value
    roles = ((decode(row["permissions"]), row["data_scope"]) for row in rows if row["data_scope"] is not None)
    permissions, scope = rights(bool(token["is_superuser"]), roles)
    return Viewer(token["user_id"], token["team_id"], permissions, scope, token_id=token["id"])
