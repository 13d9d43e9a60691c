"""Running the staff: teams, roles and user accounts.

Teams and roles need ``role.manage``, accounts ``user.manage``; either may read teams and
roles (a user manager picks from them). Delegation is bounded twice. Nobody grants what they
do not hold: a role given to a user, or a permission added to a role, must be within the
granter's own rights, so ``user.manage`` alone cannot make its holder a superuser. And nobody
reaches beyond their own scope (``Scope.users``, ``Scope.teams``): a manager with TEAM or
TEAM_AND_SUBTEAMS scope sees and changes only the accounts and teams of its own team set,
places staff and teams only inside it, cannot move itself to another team, and changes a role
only while everyone holding it is within reach; only ALL scope reaches across teams. What is
out of reach is absent (NOT_FOUND), as a customer out of scope is. Every change is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.access import ApiToken, Role, Team, User
from models.audit import record
from models.errors import DomainError, ErrorCode
from models.pagination import Page, PageArgs, SortKey
from models.passwords import check_policy, hash_password
from models.permissions import PERMISSIONS, DataScope
from models.scope import Scope, requires
from models.sessions import revoke_user_sessions
from models.sql import Query, fetch
from models.validation import clean_all, clean_choice, clean_email, clean_text

__all__ = [
    "UserFilter",
    "all_teams",
    "count_roles",
    "count_teams",
    "count_users",
    "create_role",
    "create_team",
    "create_user",
    "deactivate_user",
    "delete_role",
    "lead_choices",
    "set_my_language",
    "list_roles",
    "list_teams",
    "list_users",
    "permission_codes",
    "reactivate_user",
    "reset_password",
    "role_ids_by_user",
    "role_user_counts",
    "roles_by_ids",
    "set_role_permission",
    "teams_by_ids",
    "update_role",
    "update_team",
    "update_user",
    "users_by_ids",
]

MAX_TEAMS = 1000
_TEAM_COLUMNS = "t.id, t.name, t.parent_id, t.lead_id, t.created_at"
_ROLE_COLUMNS = "r.id, r.name, r.description, r.permissions, r.data_scope, r.created_at"
_USER_COLUMNS = (
    "u.id, u.email, u.display_name, u.team_id, u.is_active, u.is_superuser, u.last_login_at, u.locked_until, u.created_at,"
    " u.language"
)
LANGUAGES = ("zh_CN", "en")
"""The languages the admin speaks, Chinese first."""
_BY_NAME = {"t": SortKey("t.name", "text", descending=False), "r": SortKey("r.name", "text", descending=False)}
_BY_EMAIL = SortKey("u.email", "text", descending=False)


def _read_teams_and_roles(scope: Scope) -> None:
    scope.require("role.manage", "user.manage")


async def _page(scope: Scope, table: str, alias: str, columns: str, key: SortKey, conditions: list[str], q: Query, args: PageArgs, model) -> Page:
    args = args.checked()
    conditions = ["1 = 1", *conditions]
    if (keyset := args.keyset_condition(key, q, alias)) is not None:
        conditions.append(keyset)
    sql = (
        f"SELECT {columns} FROM {table} {alias} WHERE {' AND '.join(conditions)} "
        f"ORDER BY {args.order_by(key, alias)} LIMIT {args.size + 1}"
    )
    return Page.from_rows(await fetch(sql, q, model), args, key)


async def _count(table: str, alias: str, conditions: list[str], q: Query) -> int:
    rows = await fetch(f"SELECT COUNT(*) AS n FROM {table} {alias} WHERE {' AND '.join(['1 = 1', *conditions])}", q)
    return rows[0]["n"]


async def _by_ids(
    table: str, alias: str, columns: str, ids: list[int], model, reach: Callable[[Query, str], str] | None = None
) -> dict[int, dict[str, Any]]:
    """Rows by id; ``reach(q, column)`` names those the caller may see."""
    if not ids:
        return {}
    q = Query()
    within = f" AND {reach(q, f'{alias}.id')}" if reach else ""
    rows = await fetch(f"SELECT {columns} FROM {table} {alias} WHERE {alias}.id IN {q.in_list(ids)}{within}", q, model)
    return {row["id"]: row for row in rows}


def permission_codes(scope: Scope) -> dict[str, str]:
    """Every permission code with what it allows: what a role can be given."""
    _read_teams_and_roles(scope)
    return PERMISSIONS


# Teams


async def list_teams(scope: Scope, args: PageArgs) -> Page:
    """The teams within the caller's reach, by name."""
    _read_teams_and_roles(scope)
    q = Query()
    return await _page(scope, "team", "t", _TEAM_COLUMNS, _BY_NAME["t"], [scope.teams(q, "t.id")], q, args, Team)


async def count_teams(scope: Scope) -> int:
    _read_teams_and_roles(scope)
    q = Query()
    return await _count("team", "t", [scope.teams(q, "t.id")], q)


async def all_teams(scope: Scope) -> list[dict[str, Any]]:
    """Every team within reach, by name, for drawing the hierarchy (teams are few)."""
    _read_teams_and_roles(scope)
    q = Query()
    return await fetch(
        f"SELECT {_TEAM_COLUMNS} FROM team t WHERE {scope.teams(q, 't.id')} ORDER BY t.name, t.id LIMIT {MAX_TEAMS}", q, Team
    )


async def teams_by_ids(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Teams by id, those out of reach left out."""
    if not (scope.can("role.manage") or scope.can("user.manage")):
        return {}
    return await _by_ids("team", "t", _TEAM_COLUMNS, ids, Team, scope.teams)


async def _team_or_not_found(team_id: int | None, field: str, connection=None) -> Team | None:
    if team_id is None:
        return None
    team = await Team.get_or_none(id=team_id).using_db(connection)
    if team is None:
        raise DomainError.single(field, "no such team.", ErrorCode.NOT_FOUND)
    return team


async def _team_in_reach(scope: Scope, team_id: int | None, field: str, connection=None) -> Team | None:
    """A team to place staff or teams in: one out of reach is absent; none (the top) is for ALL scope only."""
    if team_id is None:
        if not scope.everywhere:
            raise DomainError.single(
                field, "only a manager with ALL scope may leave this without a team.", ErrorCode.FORBIDDEN
            )
        return None
    if not scope.reaches_team(team_id):
        raise DomainError.single(field, "no such team.", ErrorCode.NOT_FOUND)
    return await _team_or_not_found(team_id, field, connection)


def _team_row(team: Team) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "parent_id": team.parent_id, "lead_id": team.lead_id, "created_at": team.created_at}


@requires("role.manage")
async def create_team(scope: Scope, name: str, parent_id: int | None = None) -> dict[str, Any]:
    """A team below ``parent_id`` (within reach), or at the top (ALL scope only)."""
    name = clean_text(name, "name", max_length=100, required=True)
    async with in_transaction() as connection:
        await _team_in_reach(scope, parent_id, "parentId", connection)
        team = await Team.create(name=name, parent_id=parent_id, using_db=connection)
        await record(scope, "team.create", "team", team.id, after={"name": name, "parent_id": parent_id}, connection=connection)
    return _team_row(team)


async def _lead(scope: Scope, user_id: int | None, connection) -> int | None:
    if user_id is None:
        return None
    q = Query()
    rows = await connection.execute_query_dict(
        f"SELECT u.id FROM staff_user u WHERE u.id = {q.param(user_id)} AND u.is_active AND {scope.users(q, 'u')}", q.params
    )
    if not rows:
        raise DomainError.single("leadId", "no such active staff member.", ErrorCode.NOT_FOUND)
    return user_id


@requires("role.manage")
async def lead_choices(scope: Scope) -> list[dict[str, Any]]:
    """Who may lead a team the caller manages: active staff within its reach, by name."""
    q = Query()
    return await fetch(
        f"SELECT u.id, u.display_name FROM staff_user u WHERE u.is_active AND {scope.users(q, 'u')}"
        f" ORDER BY u.display_name, u.id LIMIT {MAX_TEAMS}", q,
    )


async def _lock_teams(connection) -> None:
    """Serialise team moves on PostgreSQL, so two concurrent moves cannot close a loop."""
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query("SELECT pg_advisory_xact_lock(4832002)")


@requires("role.manage")
async def update_team(scope: Scope, team_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Rename (``name``), move (``parent_id``, None for the top) and name its ``lead_id`` (None: none).

    Both the team and where it goes must be within reach: moving a team under one's own would
    widen one's scope, a grant nobody holds. A team cannot sit below itself. Its lead, who is
    told of the team's escalated complaints, is an active member of staff within reach.
    """
    values = {}
    if "name" in changes:
        values["name"] = clean_text(changes["name"], "name", max_length=100, required=True)
    async with in_transaction() as connection:
        await _lock_teams(connection)
        if not scope.reaches_team(team_id):
            raise DomainError.single("id", "no such team.", ErrorCode.NOT_FOUND)
        team = await _team_or_not_found(team_id, "id", connection)
        if "parent_id" in changes and changes["parent_id"] != team.parent_id:  # staying put is no move
            parent_id = changes["parent_id"]
            ancestor = await _team_in_reach(scope, parent_id, "parentId", connection)
            for _ in range(MAX_TEAMS + 1):
                if ancestor is None:
                    break
                if ancestor.id == team_id:
                    raise DomainError.single("parentId", "a team cannot sit below itself.", ErrorCode.CYCLE)
                ancestor = await _team_or_not_found(ancestor.parent_id, "parentId", connection)
            values["parent_id"] = parent_id
        if "lead_id" in changes and changes["lead_id"] != team.lead_id:  # keeping a lead out of reach is no change
            values["lead_id"] = await _lead(scope, changes["lead_id"], connection)
        before = _team_row(team)
        if values:
            await Team.filter(id=team_id).using_db(connection).update(**values)
        after = {**before, **values}
        await record(scope, "team.update", "team", team_id, before=before, after=after, connection=connection)
    return after


# Roles


async def list_roles(scope: Scope, args: PageArgs) -> Page:
    _read_teams_and_roles(scope)
    return await _page(scope, "role", "r", _ROLE_COLUMNS, _BY_NAME["r"], [], Query(), args, Role)


async def count_roles(scope: Scope) -> int:
    _read_teams_and_roles(scope)
    return await _count("role", "r", [], Query())


async def roles_by_ids(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not (scope.can("role.manage") or scope.can("user.manage") or scope.system):
        return {}
    return await _by_ids("role", "r", _ROLE_COLUMNS, ids, Role)


async def role_user_counts(role_ids: list[int]) -> dict[int, int]:
    """How many users hold each role, in one statement."""
    if not role_ids:
        return {}
    q = Query()
    rows = await fetch(
        f"SELECT role_id, COUNT(*) AS n FROM user_role WHERE role_id IN {q.in_list(role_ids)} GROUP BY role_id", q
    )
    counts = {row["role_id"]: row["n"] for row in rows}
    return {role_id: counts.get(role_id, 0) for role_id in role_ids}


def _permission_codes(codes: list[str]) -> list[str]:
    unknown = sorted(set(codes) - set(PERMISSIONS))
    if unknown:
        raise DomainError.single("permissions", f"unknown permission codes: {', '.join(unknown[:5])}.", ErrorCode.INVALID)
    return sorted(set(codes))


def _grantable(scope: Scope, permissions: list[str], data_scope: DataScope, field: str) -> None:
    if not scope.within(set(permissions), data_scope):
        raise DomainError.single(
            field, "you can only grant permissions and a data scope that you hold yourself.", ErrorCode.FORBIDDEN
        )


def _role_row(role: Role) -> dict[str, Any]:
    return {
        "id": role.id, "name": role.name, "description": role.description, "permissions": list(role.permissions),
        "data_scope": DataScope(role.data_scope), "created_at": role.created_at,
    }


def _clean_role(changes: dict[str, Any], creating: bool) -> dict[str, Any]:
    cleaners = {
        "name": lambda _: clean_text(changes.get("name"), "name", max_length=100, required=True),
        "description": lambda _: clean_text(changes.get("description"), "description", max_length=500) or "",
        "permissions": lambda _: _permission_codes(changes.get("permissions") or []),
        "data_scope": lambda _: clean_choice(changes.get("data_scope"), DataScope, "dataScope", required=True),
    }
    return clean_all({k: v for k, v in cleaners.items() if creating or k in changes})


@requires("role.manage")
async def create_role(
    scope: Scope, name: str, permissions: list[str], data_scope: Any, description: str | None = None
) -> dict[str, Any]:
    values = _clean_role(
        {"name": name, "permissions": permissions, "data_scope": data_scope, "description": description}, creating=True
    )
    _grantable(scope, values["permissions"], values["data_scope"], "permissions")
    try:
        async with in_transaction() as connection:
            role = await Role.create(using_db=connection, **values)
            await record(scope, "role.create", "role", role.id, after=values, connection=connection)
    except IntegrityError:
        raise DomainError.single("name", "a role with this name exists.", ErrorCode.DUPLICATE) from None
    return _role_row(role)


async def _role_or_not_found(role_id: int, connection) -> Role:
    role = await Role.get_or_none(id=role_id).using_db(connection).select_for_update()
    if role is None:
        raise DomainError.single("id", "no such role.", ErrorCode.NOT_FOUND)
    return role


async def _holders_in_reach(scope: Scope, role_id: int) -> None:
    """Changing a role changes what its holders may do: refuse while any holder is out of reach."""
    if scope.everywhere:
        return
    q = Query()
    rows = await fetch(
        f"SELECT COUNT(*) AS n, SUM(CASE WHEN {scope.users(q, 'u')} THEN 1 ELSE 0 END) AS reached"
        f" FROM user_role ur JOIN staff_user u ON u.id = ur.staff_user_id WHERE ur.role_id = {q.param(role_id)}",
        q,
    )
    if rows[0]["n"] != (rows[0]["reached"] or 0):
        raise DomainError.single(
            "id", "staff outside your reach hold this role; only a manager with ALL scope may change it.",
            ErrorCode.FORBIDDEN,
        )


async def _save_role(scope: Scope, role_id: int, change) -> dict[str, Any]:
    """Apply ``change(before row) -> new values`` to a role under a row lock, audited."""
    try:
        async with in_transaction() as connection:
            before = _role_row(await _role_or_not_found(role_id, connection))
            values = change(before)
            after = {**before, **values}
            # Granting and taking away alike: a role beyond the caller's rights is not theirs to edit.
            _grantable(scope, before["permissions"], before["data_scope"], "id")
            await _holders_in_reach(scope, role_id)
            _grantable(scope, after["permissions"], after["data_scope"], "permissions")
            if values:
                await Role.filter(id=role_id).using_db(connection).update(**values)
            await record(scope, "role.update", "role", role_id, before=before, after=after, connection=connection)
    except IntegrityError:
        raise DomainError.single("name", "a role with this name exists.", ErrorCode.DUPLICATE) from None
    return after


@requires("role.manage")
async def update_role(scope: Scope, role_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change any of ``name``, ``description``, ``permissions`` (the whole set), ``data_scope``."""
    values = _clean_role(changes, creating=False)
    return await _save_role(scope, role_id, lambda _: values)


@requires("role.manage")
async def set_role_permission(scope: Scope, role_id: int, code: str, granted: bool) -> dict[str, Any]:
    """Grant or take away one permission: what a tick in the admin's matrix does.

    One code at a time, read and written under the row lock, so two admins ticking
    different boxes of one role at once both keep their tick.
    """
    _permission_codes([code])

    def change(before: dict[str, Any]) -> dict[str, Any]:
        codes = set(before["permissions"])
        codes = codes | {code} if granted else codes - {code}
        return {"permissions": sorted(codes)}

    return await _save_role(scope, role_id, change)


@requires("role.manage")
async def delete_role(scope: Scope, role_id: int) -> dict[str, Any]:
    """Delete a role nobody holds; a role in use must be taken from its users first."""
    async with in_transaction() as connection:
        role = await _role_or_not_found(role_id, connection)
        before = _role_row(role)
        _grantable(scope, before["permissions"], before["data_scope"], "id")
        holders = (await role_user_counts([role_id]))[role_id]
        if holders:
            raise DomainError.single(
                "id", f"{holders} user(s) hold this role; give them another role first.", ErrorCode.IN_USE
            )
        await Role.filter(id=role_id).using_db(connection).delete()
        await record(scope, "role.delete", "role", role_id, before=before, connection=connection)
    return before


# Users


@dataclass(frozen=True)
class UserFilter:
    """Narrows the staff list; every condition given must hold."""

    search: str | None = None
    team_id: int | None = None
    is_active: bool | None = None

    def where(self, q: Query) -> list[str]:
        conditions = []
        if self.search:
            text = clean_text(self.search, "search", max_length=100).lower()
            pattern = q.param("%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
            conditions.append(f"(LOWER(u.email) LIKE {pattern} ESCAPE '\\' OR LOWER(u.display_name) LIKE {pattern} ESCAPE '\\')")
        if self.team_id is not None:
            conditions.append(f"u.team_id = {q.param(self.team_id)}")
        if self.is_active is not None:
            conditions.append(f"u.is_active = {q.param(self.is_active)}")
        return conditions


async def list_users(scope: Scope, filter: UserFilter, args: PageArgs) -> Page:
    """The accounts within the caller's reach, by email."""
    scope.require("user.manage")
    q = Query()
    conditions = [scope.users(q, "u"), *filter.where(q)]
    return await _page(scope, "staff_user", "u", _USER_COLUMNS, _BY_EMAIL, conditions, q, args, User)


async def count_users(scope: Scope, filter: UserFilter) -> int:
    scope.require("user.manage")
    q = Query()
    return await _count("staff_user", "u", [scope.users(q, "u"), *filter.where(q)], q)


async def users_by_ids(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Accounts by id: with ``user.manage`` those within reach, and anyone's own."""
    if not scope.can("user.manage"):
        own = scope.viewer.user_id if scope.viewer else None
        ids = [i for i in ids if i == own]
    return await _by_ids("staff_user", "u", _USER_COLUMNS, ids, User, lambda q, _: scope.users(q, "u"))


async def role_ids_by_user(user_ids: list[int]) -> dict[int, list[int]]:
    if not user_ids:
        return {}
    q = Query()
    rows = await fetch(
        f"SELECT staff_user_id AS user_id, role_id FROM user_role WHERE staff_user_id IN {q.in_list(user_ids)}"
        " ORDER BY role_id", q,
    )
    grouped: dict[int, list[int]] = {user_id: [] for user_id in user_ids}
    for row in rows:
        grouped[row["user_id"]].append(row["role_id"])
    return grouped


async def _roles_to_grant(scope: Scope, role_ids: list[int], connection) -> list[Role]:
    roles = await Role.filter(id__in=list(role_ids)).using_db(connection)
    if len(roles) != len(set(role_ids)):
        raise DomainError.single("roleIds", "no such role.", ErrorCode.NOT_FOUND)
    for role in roles:
        _grantable(scope, role.permissions, DataScope(role.data_scope), "roleIds")
    return roles


def _user_row(user: User, role_ids: list[int]) -> dict[str, Any]:
    return {
        "id": user.id, "email": user.email, "display_name": user.display_name, "team_id": user.team_id,
        "is_active": user.is_active, "is_superuser": user.is_superuser, "last_login_at": user.last_login_at,
        "locked_until": user.locked_until, "created_at": user.created_at, "role_ids": sorted(role_ids),
    }


def _clean_email(value: Any) -> str:
    return clean_email(value) or clean_text(None, "email", max_length=254, required=True)


@requires("user.manage")
async def create_user(
    scope: Scope,
    email: str,
    display_name: str,
    password: str,
    team_id: int | None = None,
    role_ids: list[int] = (),
    is_superuser: bool = False,
) -> dict[str, Any]:
    """A staff account in a team within reach; only the system (``kehu createadmin``) makes superusers."""
    if is_superuser and not scope.system:
        raise DomainError.single(None, "superusers are made with kehu createadmin.", ErrorCode.FORBIDDEN)
    values = clean_all(
        {
            "email": lambda _: _clean_email(email),
            "display_name": lambda _: clean_text(display_name, "displayName", max_length=100, required=True),
            "password": lambda _: check_policy(password),
        }
    )
    await _team_in_reach(scope, team_id, "teamId")
    await _roles_to_grant(scope, role_ids, None)
    password_hash = await hash_password(values.pop("password"))
    try:
        async with in_transaction() as connection:
            roles = await _roles_to_grant(scope, role_ids, connection)
            user = await User.create(
                using_db=connection, password_hash=password_hash, team_id=team_id, is_superuser=is_superuser, **values
            )
            if roles:
                await user.roles.add(*roles, using_db=connection)
            row = _user_row(user, [role.id for role in roles])
            await record(scope, "user.create", "user", user.id, after=row, connection=connection)
    except IntegrityError:
        raise DomainError.single("email", "a user with this email exists.", ErrorCode.DUPLICATE) from None
    return row


async def _account(scope: Scope, user_id: int, connection) -> tuple[User, dict[str, Any]]:
    """A user to change, locked: one out of reach is absent; one whose rights exceed the caller's is not theirs to change."""
    user = await User.get_or_none(id=user_id).using_db(connection).select_for_update()
    if user is None or not scope.reaches_user(user.id, user.team_id):
        raise DomainError.single("id", "no such user.", ErrorCode.NOT_FOUND)
    role_ids = (await role_ids_by_user([user_id]))[user_id]
    if not scope.system:
        if user.is_superuser:
            raise DomainError.single("id", "superusers are changed with kehu createadmin only.", ErrorCode.FORBIDDEN)
        await _roles_to_grant(scope, role_ids, connection)
    return user, _user_row(user, role_ids)


@requires("user.manage")
async def update_user(scope: Scope, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change any of ``email``, ``display_name``, ``team_id`` (within reach; not one's own team
    but with ALL scope), ``role_ids`` (the whole set)."""
    cleaners = {
        "email": lambda _: _clean_email(changes["email"]),
        "display_name": lambda _: clean_text(changes["display_name"], "displayName", max_length=100, required=True),
        "team_id": lambda _: changes["team_id"],
        "role_ids": lambda _: sorted(set(changes["role_ids"] or [])),
    }
    values = clean_all({k: v for k, v in cleaners.items() if k in changes})
    try:
        async with in_transaction() as connection:
            user, before = await _account(scope, user_id, connection)
            if "team_id" in values and values["team_id"] != before["team_id"]:
                if scope.viewer is not None and scope.viewer.user_id == user_id and not scope.everywhere:
                    raise DomainError.single("teamId", "you cannot move yourself to another team.", ErrorCode.FORBIDDEN)
                await _team_in_reach(scope, values["team_id"], "teamId", connection)
            role_ids = values.pop("role_ids", None)
            if role_ids is not None:
                roles = await _roles_to_grant(scope, role_ids, connection)
                await user.roles.clear(using_db=connection)
                if roles:
                    await user.roles.add(*roles, using_db=connection)
            if values:
                await User.filter(id=user_id).using_db(connection).update(**values)
            after = {**before, **values, "role_ids": role_ids if role_ids is not None else before["role_ids"]}
            await record(scope, "user.update", "user", user_id, before=before, after=after, connection=connection)
    except IntegrityError:
        raise DomainError.single("email", "a user with this email exists.", ErrorCode.DUPLICATE) from None
    return after


@requires()
async def set_my_language(scope: Scope, language: str | None) -> str | None:
    """The caller's own admin language (one of ``LANGUAGES``), or None to follow the browser."""
    if language is not None and language not in LANGUAGES:
        raise DomainError.single("language", f"language must be one of {', '.join(LANGUAGES)}.", ErrorCode.INVALID)
    async with in_transaction() as connection:
        user = await User.get(id=scope.viewer.user_id).using_db(connection)
        await User.filter(id=user.id).using_db(connection).update(language=language)
        await record(scope, "user.set_language", "user", user.id, before={"language": user.language},
                     after={"language": language}, connection=connection)
    return language


async def _set_active(scope: Scope, user_id: int, active: bool) -> dict[str, Any]:
    if not active and scope.viewer is not None and scope.viewer.user_id == user_id:
        raise DomainError.single("id", "you cannot deactivate your own account.", ErrorCode.INVALID)
    async with in_transaction() as connection:
        _, before = await _account(scope, user_id, connection)
        after = {**before, "is_active": active}
        if before["is_active"] != active:
            await User.filter(id=user_id).using_db(connection).update(is_active=active)
            if not active:
                await revoke_user_sessions(user_id, connection)
            await record(
                scope, "user.activate" if active else "user.deactivate", "user", user_id,
                before=before, after=after, connection=connection,
            )
    return after


@requires("user.manage")
async def deactivate_user(scope: Scope, user_id: int) -> dict[str, Any]:
    """Close an account: its sessions end now and its tokens stop working; the record stays."""
    return await _set_active(scope, user_id, False)


@requires("user.manage")
async def reactivate_user(scope: Scope, user_id: int) -> dict[str, Any]:
    return await _set_active(scope, user_id, True)


@requires("user.manage")
async def reset_password(scope: Scope, user_id: int, password: str) -> dict[str, Any]:
    """Set a new password: every session and sign-in token of the user ends at once."""
    check_policy(password)
    password_hash = await hash_password(password)
    async with in_transaction() as connection:
        _, before = await _account(scope, user_id, connection)
        await User.filter(id=user_id).using_db(connection).update(
            password_hash=password_hash, failed_logins=0, locked_until=None
        )
        await revoke_user_sessions(user_id, connection)
        await ApiToken.filter(user_id=user_id, name="login", revoked_at=None).using_db(connection).update(
            revoked_at=datetime.now(UTC)
        )
        await record(
            scope, "user.reset_password", "user", user_id,
            before={"locked_until": before["locked_until"]}, after={"locked_until": None}, connection=connection,
        )
    return {**before, "locked_until": None}
