"""API tokens: made for a user, shown once, kept as a SHA-256 hash, revocable.

A token acts with its user's rights. Everyone sees and revokes their own tokens; sign-in and
the admin's "Explore the API" make one for oneself. ``token.manage`` reaches further, bounded
like every delegation: its holder makes, lists and revokes the tokens of staff within its
reach (``Scope.users``) whose rights are within its own, since a token for anyone else would
hand out what the maker does not hold.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from models.access import ApiToken, Role, User, secret_hash, viewer_of
from models.audit import record
from models.errors import DomainError, ErrorCode
from models.pagination import Page, PageArgs, SortKey
from models.permissions import PERMISSIONS, DataScope
from models.scope import Scope, requires
from models.sql import Query, fetch
from models.validation import clean_all, clean_text, clean_utc
from models.viewer import Viewer, rights

__all__ = [
    "RIGHTS_STAMP",
    "EXPLORER_TOKEN_LIFETIME",
    "LOGIN_TOKEN_LIFETIME",
    "MAX_OWN_TOKENS",
    "TOKEN_PREFIX",
    "count_api_tokens",
    "create_api_token",
    "issue_explorer_token",
    "issue_login_token",
    "list_api_tokens",
    "revoke_api_token",
    "tokens_by_ids",
    "user_id_for_email",
    "read_token",
    "viewer_for_token",
]

TOKEN_PREFIX = "kehu_"
LOGIN_TOKEN_LIFETIME = timedelta(days=30)
EXPLORER_TOKEN_LIFETIME = timedelta(hours=8)
"""A token the admin makes for exploring the API in GraphiQL: a working day."""
MAX_OWN_TOKENS = 20
"""Sign-ins (or explorations) beyond this many live tokens of theirs revoke the oldest: a flood cannot grow the table."""

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


async def _managed(scope: Scope, q: Query) -> str:
    """The condition "token ``t`` is one this caller manages" (see the module's docstring)."""
    if scope.system:
        return "1 = 1"
    own = f"t.user_id = {q.param(scope.viewer.user_id)}" if scope.viewer else "1 = 0"
    if not scope.can("token.manage"):
        return own
    grantable = [role.id for role in await Role.all() if scope.within(set(role.permissions), DataScope(role.data_scope))]
    other_roles = f" AND ur.role_id NOT IN {q.in_list(grantable)}" if grantable else ""
    superusers = "" if scope.within(set(PERMISSIONS), DataScope.ALL) else " AND NOT u.is_superuser"
    holder = (
        f"EXISTS (SELECT 1 FROM staff_user u WHERE u.id = t.user_id AND {scope.users(q, 'u')}{superusers}"
        f" AND NOT EXISTS (SELECT 1 FROM user_role ur WHERE ur.staff_user_id = u.id{other_roles}))"
    )
    return f"({own} OR {holder})"


@requires("token.manage")
async def create_api_token(scope: Scope, user_id: int, name: str, expires_at: datetime | None = None) -> tuple[dict[str, Any], str]:
    """A new token for a user within reach, and its secret; the secret is shown this once and never stored."""
    values = clean_all(
        {
            "name": lambda _: clean_text(name, "name", max_length=100, required=True),
            "expires_at": lambda _: clean_utc(expires_at, "expiresAt"),
        }
    )
    if values["expires_at"] is not None and values["expires_at"] <= datetime.now(UTC):
        raise DomainError.single("expiresAt", "a token cannot expire in the past.", ErrorCode.INVALID)
    user = await User.get_or_none(id=user_id, is_active=True)
    if user is None or not scope.reaches_user(user.id, user.team_id):
        raise DomainError.single("userId", "no such active user.", ErrorCode.NOT_FOUND)
    holder = await viewer_of(user)
    if not scope.within(holder.permissions, holder.scope):
        raise DomainError.single(
            "userId", "this user holds rights you do not; a token for them would hand those out.", ErrorCode.FORBIDDEN
        )
    async with in_transaction() as connection:
        return await _insert(scope, user_id, values["name"], values["expires_at"], connection)


@requires("token.manage")
async def user_id_for_email(scope: Scope, email: str) -> int:
    """The active user within reach a token is to be made for, named by email (for the admin's form)."""
    q = Query()
    rows = await fetch(
        f"SELECT u.id FROM staff_user u WHERE u.email = {q.param((email or '').strip().lower()[:254])}"
        f" AND u.is_active AND {scope.users(q, 'u')}",
        q,
    )
    if not rows:
        raise DomainError.single("userId", "no active user within your reach has this email.", ErrorCode.NOT_FOUND)
    return rows[0]["id"]


async def _issue_own(viewer: Viewer, name: str, lifetime: timedelta, client_ip: str | None) -> tuple[dict[str, Any], str]:
    """A token for the caller themselves; their oldest ones of this name past the cap are revoked."""
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        live = await (
            ApiToken.filter(user_id=viewer.user_id, name=name, revoked_at=None)
            .using_db(connection)
            .order_by("-created_at", "-id")
            .values_list("id", flat=True)
        )
        if len(live) >= MAX_OWN_TOKENS:
            await ApiToken.filter(id__in=live[MAX_OWN_TOKENS - 1:]).using_db(connection).update(revoked_at=now)
        scope = Scope(viewer, client_ip=client_ip)
        return await _insert(scope, viewer.user_id, name, now + lifetime, connection)


async def issue_login_token(viewer: Viewer, client_ip: str | None) -> tuple[dict[str, Any], str]:
    """A 30-day token for a user who just signed in."""
    return await _issue_own(viewer, "login", LOGIN_TOKEN_LIFETIME, client_ip)


@requires()
async def issue_explorer_token(scope: Scope) -> tuple[dict[str, Any], str]:
    """A token of the caller's own for GraphiQL, good for a working day; revocable like any other."""
    return await _issue_own(scope.viewer, "graphiql", EXPLORER_TOKEN_LIFETIME, scope.client_ip)


@requires()
async def revoke_api_token(scope: Scope, token_id: int) -> dict[str, Any]:
    """Revoke a token: one's own, or with ``token.manage`` one of staff within reach."""
    q = Query()
    found = await fetch(f"SELECT t.id, t.revoked_at FROM api_token t WHERE t.id = {q.param(token_id)} AND {await _managed(scope, q)}", q, ApiToken)
    if not found:
        raise DomainError.single("id", "no such token.", ErrorCode.NOT_FOUND)
    if found[0]["revoked_at"] is None:
        async with in_transaction() as connection:
            now = datetime.now(UTC)
            await ApiToken.filter(id=token_id, revoked_at=None).using_db(connection).update(revoked_at=now)
            await record(scope, "api_token.revoke", "api_token", token_id,
                         before={"revoked_at": None}, after={"revoked_at": now}, connection=connection)
    return (await tokens_by_ids(Scope.of_system(), [token_id]))[token_id]


def _conditions(q: Query, user_id: int | None, live_only: bool) -> list[str]:
    conditions = []
    if user_id is not None:
        conditions.append(f"t.user_id = {q.param(user_id)}")
    if live_only:
        conditions.append("t.revoked_at IS NULL")
    return conditions


@requires()
async def list_api_tokens(scope: Scope, user_id: int | None, args: PageArgs, *, live_only: bool = False) -> Page:
    """The tokens the caller manages, newest first; of one user when ``user_id`` is given."""
    args = args.checked()
    q = Query()
    conditions = [await _managed(scope, q), *_conditions(q, user_id, live_only)]
    if (keyset := args.keyset_condition(_KEY, q, "t")) is not None:
        conditions.append(keyset)
    sql = f"SELECT {_COLUMNS} FROM api_token t WHERE {' AND '.join(conditions)} ORDER BY {args.order_by(_KEY, 't')} LIMIT {args.size + 1}"
    return Page.from_rows(await fetch(sql, q, ApiToken), args, _KEY)


@requires()
async def count_api_tokens(scope: Scope, user_id: int | None, *, live_only: bool = False) -> int:
    q = Query()
    conditions = [await _managed(scope, q), *_conditions(q, user_id, live_only)]
    rows = await fetch(f"SELECT COUNT(*) AS n FROM api_token t WHERE {' AND '.join(conditions)}", q)
    return rows[0]["n"]


async def tokens_by_ids(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Tokens by id, those the caller does not manage left out."""
    if not ids or (scope.viewer is None and not scope.system):
        return {}
    q = Query()
    rows = await fetch(f"SELECT {_COLUMNS} FROM api_token t WHERE t.id IN {q.in_list(ids)} AND {await _managed(scope, q)}", q, ApiToken)
    return {row["id"]: row for row in rows}


async def viewer_for_token(secret: str) -> Viewer | None:
    """The viewer a bearer token stands for, or None when it is unknown, revoked or expired."""
    found = await read_token(secret)
    return found[0] if found else None


RIGHTS_STAMP = (
    "concat_ws('|', u.team_id, u.is_superuser, (SELECT string_agg(r.id || ':' || r.data_scope || ':' || r.permissions::text,"
    " ',' ORDER BY r.id) FROM user_role ur JOIN role r ON r.id = ur.role_id WHERE ur.staff_user_id = u.id))"
)
"""PostgreSQL: the rights of staff user ``u`` as one text, equal while their team, superuser flag and roles are."""


async def read_token(secret: str, stamped: bool = False) -> tuple[Viewer, str | None] | None:
    """The viewer a bearer token stands for, and with ``stamped`` (PostgreSQL) its ``RIGHTS_STAMP``
    read in the same statement; None when the token is unknown, revoked or expired."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    # One statement for the token, its user and their roles: every API request pays for it.
    q = Query()
    rows = await fetch(
        "SELECT t.id, t.expires_at, t.last_used_at, u.id AS user_id, u.team_id, u.is_superuser,"
        f" r.permissions, r.data_scope{f', {RIGHTS_STAMP} AS stamp' if stamped else ''}"
        " FROM api_token t JOIN staff_user u ON u.id = t.user_id"
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
    viewer = Viewer(token["user_id"], token["team_id"], permissions, scope, token_id=token["id"])
    return viewer, token.get("stamp")
