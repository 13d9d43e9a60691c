"""Staff administration in GraphQL: users, roles, teams and the permission codes.

Thin: every rule (who may manage whom, what may be granted, roles in use) is in
models/staff.py; this module turns inputs into its calls and rows into types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from models import staff
from models.permissions import DataScope
from models.staff import UserFilter
from schema.context import Info
from schema.errors import UserError, or_bad_input
from schema.ids import from_global_id, to_global_id
from schema.mutations import Idempotent, input_dict, payload
from schema.relay import PAGE_ARGS_DOC, Connection, Node, connection, page_args

__all__ = ["Role", "StaffMutations", "StaffQueries", "Team", "User", "node_pk"]


def node_pk(value: strawberry.ID, field: str, type_name: str) -> int:
    """The primary key in a global ID of ``type_name``; a bad one ends the mutation with an error."""
    return from_global_id(value, field, type_name)[1]


def _arg(name: str) -> Any:
    return strawberry.argument(description=PAGE_ARGS_DOC[name])


@strawberry.type(description="A team of staff; teams nest, and a TEAM_AND_SUBTEAMS role sees the teams below.")
class Team(Node):
    loader = "team"
    pk: strawberry.Private[int]
    parent_pk: strawberry.Private[int | None]
    lead_pk: strawberry.Private[int | None]
    name: str = strawberry.field(description="The team's name.")
    created_at: datetime = strawberry.field(description="When the team was made.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Team:
        return cls(
            id=to_global_id("Team", row["id"]), pk=row["id"], parent_pk=row["parent_id"], lead_pk=row.get("lead_id"),
            name=row["name"], created_at=row["created_at"],
        )

    @strawberry.field(description="The team this one sits under; null at the top.")
    async def parent(self, info: Info) -> Team | None:
        if self.parent_pk is None:
            return None
        row = await info.context.loaders.team.load(self.parent_pk)
        return Team.from_row(row) if row else None

    @strawberry.field(description="Who is told when the team's complaints are escalated; null when nobody (or out of reach).")
    async def lead(self, info: Info) -> User | None:
        if self.lead_pk is None:
            return None
        row = await info.context.loaders.user.load(self.lead_pk)
        return User.from_row(row) if row else None


@strawberry.type(description="A set of permissions with a data scope, given to staff.")
class Role(Node):
    loader = "role"
    pk: strawberry.Private[int]
    name: str = strawberry.field(description="The role's name, unique.")
    description: str = strawberry.field(description="What the role is for.")
    permissions: list[str] = strawberry.field(description="Permission codes the role grants, sorted.")
    data_scope: DataScope = strawberry.field(description="Which customers holders of the role see, and which staff, tokens and teams its managers reach.")
    created_at: datetime = strawberry.field(description="When the role was made.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Role:
        return cls(
            id=to_global_id("Role", row["id"]), pk=row["id"], name=row["name"], description=row["description"],
            permissions=sorted(row["permissions"]), data_scope=DataScope(row["data_scope"]),
            created_at=row["created_at"],
        )

    @strawberry.field(description="How many staff hold the role; a role held by anyone cannot be deleted.")
    async def user_count(self, info: Info) -> int:
        return await info.context.loaders.role_user_count.load((self.pk,))


@strawberry.type(description="A staff member's account.")
class User(Node):
    loader = "user"
    pk: strawberry.Private[int]
    team_pk: strawberry.Private[int | None]
    email: str = strawberry.field(description="Sign-in email, lower case.")
    display_name: str = strawberry.field(description="Name shown to colleagues.")
    is_active: bool = strawberry.field(description="False once deactivated: no sign-in, no tokens, no sessions.")
    is_superuser: bool = strawberry.field(description="Holds every permission with ALL scope (made with kehu createadmin).")
    last_login_at: datetime | None = strawberry.field(description="The last successful sign-in.")
    locked_until: datetime | None = strawberry.field(description="Locked after failed sign-ins until this time.")
    created_at: datetime = strawberry.field(description="When the account was made.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls(
            id=to_global_id("User", row["id"]), pk=row["id"], team_pk=row["team_id"], email=row["email"],
            display_name=row["display_name"], is_active=row["is_active"], is_superuser=row["is_superuser"],
            last_login_at=row["last_login_at"], locked_until=row["locked_until"], created_at=row["created_at"],
        )

    @strawberry.field(description="The user's team; null when none (or not visible to the caller).")
    async def team(self, info: Info) -> Team | None:
        if self.team_pk is None:
            return None
        row = await info.context.loaders.team.load(self.team_pk)
        return Team.from_row(row) if row else None

    @strawberry.field(description="The user's roles, by id (empty where the caller may not see roles).")
    async def roles(self, info: Info) -> list[Role]:
        role_ids = await info.context.loaders.role_ids.load((self.pk,))
        rows = await info.context.loaders.role.load_many(role_ids)
        return [Role.from_row(row) for row in rows if row]


@strawberry.type(description="A permission code and what it allows.")
class PermissionCode:
    code: str = strawberry.field(description="The code, `domain.action`.")
    description: str = strawberry.field(description="What holding it allows.")


@strawberry.input(description="Conditions on the staff list; all given must hold.")
class UserFilterInput:
    search: str | None = strawberry.field(default=None, description="Text in the email or display name.")
    team_id: strawberry.ID | None = strawberry.field(default=None, description="Members of this team.")
    is_active: bool | None = strawberry.field(default=None, description="Only active (true) or deactivated (false) accounts.")

    def to_domain(self) -> UserFilter:
        team = node_pk(self.team_id, "teamId", "Team") if self.team_id is not None else None
        return UserFilter(search=self.search, team_id=team, is_active=self.is_active)


@strawberry.type
class StaffQueries:
    @strawberry.field(description="Staff accounts by email, those of your team set and your own. Needs user.manage.")
    async def users(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        last: Annotated[int | None, _arg("last")] = None,
        before: Annotated[str | None, _arg("before")] = None,
        filter: Annotated[UserFilterInput | None, strawberry.argument(description="Conditions to narrow the list.")] = None,
    ) -> Connection[User]:
        scope, args = info.context.scope, page_args(first, after, last, before)

        async def fetch():
            domain_filter = (filter or UserFilterInput()).to_domain()
            return await staff.list_users(scope, domain_filter, args), domain_filter

        page, domain_filter = await or_bad_input(fetch())
        return connection(page, User.from_row, lambda: staff.count_users(scope, domain_filter))

    @strawberry.field(description="Roles by name. Needs role.manage or user.manage.")
    async def roles(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        last: Annotated[int | None, _arg("last")] = None,
        before: Annotated[str | None, _arg("before")] = None,
    ) -> Connection[Role]:
        scope, args = info.context.scope, page_args(first, after, last, before)
        page = await or_bad_input(staff.list_roles(scope, args))
        return connection(page, Role.from_row, lambda: staff.count_roles(scope))

    @strawberry.field(description="The teams of your team set, by name. Needs role.manage or user.manage.")
    async def teams(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        last: Annotated[int | None, _arg("last")] = None,
        before: Annotated[str | None, _arg("before")] = None,
    ) -> Connection[Team]:
        scope, args = info.context.scope, page_args(first, after, last, before)
        page = await or_bad_input(staff.list_teams(scope, args))
        return connection(page, Team.from_row, lambda: staff.count_teams(scope))

    @strawberry.field(description="Every permission code a role can hold. Needs role.manage or user.manage.")
    async def permission_codes(self, info: Info) -> list[PermissionCode]:
        async def codes() -> dict[str, str]:
            return staff.permission_codes(info.context.scope)

        return [PermissionCode(code=code, description=text) for code, text in (await or_bad_input(codes())).items()]


@strawberry.input(description="A new staff account.")
class CreateUserInput:
    email: str = strawberry.field(description="Sign-in email, unique whatever its case.")
    display_name: str = strawberry.field(description="Name shown to colleagues, at most 100 characters.")
    password: str = strawberry.field(description="15 to 128 characters, not a common password.")
    team_id: strawberry.ID | None = strawberry.field(default=None, description="The user's team.")
    role_ids: list[strawberry.ID] = strawberry.field(default_factory=list, description="Roles to give; only ones within your own rights.")


@strawberry.input(description="Changes to a staff account: fields left out stay as they are.")
class UpdateUserInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The user's global ID.")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="A new sign-in email.")
    display_name: str | None = strawberry.field(default=strawberry.UNSET, description="A new display name.")
    team_id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description="A new team; null for none.")
    role_ids: list[strawberry.ID] | None = strawberry.field(default=strawberry.UNSET, description="Replaces all roles.")


@strawberry.input(description="The staff account to act on.")
class UserIdInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The user's global ID.")


@strawberry.input(description="A new password for a staff account; their sessions and sign-in tokens end.")
class ResetPasswordInput:
    id: strawberry.ID = strawberry.field(description="The user's global ID.")
    password: str = strawberry.field(description="15 to 128 characters, not a common password.")


@strawberry.type(description="The result of a change to a staff account.")
class UserPayload:
    user: User | None = strawberry.field(description="The account as it is now; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.input(description="A new role.")
class CreateRoleInput(Idempotent):
    name: str = strawberry.field(description="A unique name, at most 100 characters.")
    permissions: list[str] = strawberry.field(description="Permission codes (see `permissionCodes`); only ones you hold.")
    data_scope: DataScope = strawberry.field(description="Which customers holders see; at most your own scope.")
    description: str | None = strawberry.field(default=None, description="What the role is for, at most 500 characters.")


@strawberry.input(description="Changes to a role: fields left out stay as they are.")
class UpdateRoleInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The role's global ID.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="A new name.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="A new description.")
    permissions: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Replaces all permission codes.")
    data_scope: DataScope | None = strawberry.field(default=strawberry.UNSET, description="A new data scope.")


@strawberry.input(description="The role to delete; nobody may hold it.")
class DeleteRoleInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The role's global ID.")


@strawberry.type(description="The result of a change to a role.")
class RolePayload:
    role: Role | None = strawberry.field(description="The role as it is now; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.type(description="The result of deleteRole.")
class DeleteRolePayload:
    deleted_id: strawberry.ID | None = strawberry.field(description="The deleted role's global ID.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused (IN_USE while held); empty on success.")


@strawberry.input(description="A new team.")
class CreateTeamInput(Idempotent):
    name: str = strawberry.field(description="The team's name, at most 100 characters.")
    parent_id: strawberry.ID | None = strawberry.field(default=None, description="The team it sits under; none for the top.")


@strawberry.input(description="Rename or move a team: fields left out stay as they are.")
class UpdateTeamInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The team's global ID.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="A new name.")
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Move under this team; null moves it to the top. Never below itself."
    )
    lead_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="The User told when the team's complaints are escalated: active and within your reach; null for none.",
    )


@strawberry.type(description="The result of a change to a team.")
class TeamPayload:
    team: Team | None = strawberry.field(description="The team as it is now; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


def _team_pk(value: strawberry.ID | None, field: str = "teamId") -> int | None:
    return None if value is None else node_pk(value, field, "Team")


def _role_pks(values: list[strawberry.ID] | None) -> list[int]:
    return [node_pk(value, "roleIds", "Role") for value in values or ()]


def _user_result(row: dict[str, Any]) -> dict[str, Any]:
    return {"user": row}


@strawberry.type
class StaffMutations:
    @strawberry.mutation(description="Create a staff account in a team of your team set (without a team: ALL scope only), with roles within your own rights. Needs user.manage.")
    async def create_user(
        self, info: Info, input: Annotated[CreateUserInput, strawberry.argument(description="The new account.")]
    ) -> UserPayload:
        async def run() -> dict[str, Any]:
            row = await staff.create_user(
                info.context.scope, input.email, input.display_name, input.password,
                _team_pk(input.team_id), _role_pks(input.role_ids),
            )
            return _user_result(row)

        return await payload(UserPayload, run, info, input)

    @strawberry.mutation(description="Change the email, name, team or roles of an account in your team set; it moves only to a team of your set, and you move yourself only with ALL scope. Needs user.manage.")
    async def update_user(
        self, info: Info, input: Annotated[UpdateUserInput, strawberry.argument(description="The changes.")]
    ) -> UserPayload:
        async def run() -> dict[str, Any]:
            changes = input_dict(input, exclude={"id"})
            if "team_id" in changes:
                changes["team_id"] = _team_pk(changes["team_id"])
            if "role_ids" in changes:
                changes["role_ids"] = _role_pks(changes["role_ids"])
            return _user_result(await staff.update_user(info.context.scope, node_pk(input.id, "id", "User"), changes))

        return await payload(UserPayload, run, info, input, staff.update_user)

    @strawberry.mutation(description="Close an account of your team set: sign-in, sessions and tokens stop at once. Needs user.manage.")
    async def deactivate_user(
        self, info: Info, input: Annotated[UserIdInput, strawberry.argument(description="The account.")]
    ) -> UserPayload:
        async def run() -> dict[str, Any]:
            return _user_result(await staff.deactivate_user(info.context.scope, node_pk(input.id, "id", "User")))

        return await payload(UserPayload, run, info, input, staff.deactivate_user)

    @strawberry.mutation(description="Open a deactivated account of your team set again. Needs user.manage.")
    async def reactivate_user(
        self, info: Info, input: Annotated[UserIdInput, strawberry.argument(description="The account.")]
    ) -> UserPayload:
        async def run() -> dict[str, Any]:
            return _user_result(await staff.reactivate_user(info.context.scope, node_pk(input.id, "id", "User")))

        return await payload(UserPayload, run, info, input, staff.reactivate_user)

    @strawberry.mutation(description="Set a new password for an account of your team set; its sessions and sign-in tokens end. Needs user.manage.")
    async def reset_password(
        self, info: Info, input: Annotated[ResetPasswordInput, strawberry.argument(description="The account and password.")]
    ) -> UserPayload:
        async def run() -> dict[str, Any]:
            pk = node_pk(input.id, "id", "User")
            return _user_result(await staff.reset_password(info.context.scope, pk, input.password))

        return await payload(UserPayload, run, info, input)

    @strawberry.mutation(description="Create a role. Needs role.manage.")
    async def create_role(
        self, info: Info, input: Annotated[CreateRoleInput, strawberry.argument(description="The new role.")]
    ) -> RolePayload:
        async def run() -> dict[str, Any]:
            row = await staff.create_role(
                info.context.scope, input.name, input.permissions, input.data_scope, input.description
            )
            return {"role": row}

        return await payload(RolePayload, run, info, input, staff.create_role)

    @strawberry.mutation(description="Change a role within your rights, held by nobody outside your team set (any role with ALL scope); its holders' next request obeys it. Needs role.manage.")
    async def update_role(
        self, info: Info, input: Annotated[UpdateRoleInput, strawberry.argument(description="The changes.")]
    ) -> RolePayload:
        async def run() -> dict[str, Any]:
            pk = node_pk(input.id, "id", "Role")
            return {"role": await staff.update_role(info.context.scope, pk, input_dict(input, exclude={"id"}))}

        return await payload(RolePayload, run, info, input, staff.update_role)

    @strawberry.mutation(description="Delete a role nobody holds (IN_USE otherwise). Needs role.manage.")
    async def delete_role(
        self, info: Info, input: Annotated[DeleteRoleInput, strawberry.argument(description="The role.")]
    ) -> DeleteRolePayload:
        async def run() -> dict[str, Any]:
            row = await staff.delete_role(info.context.scope, node_pk(input.id, "id", "Role"))
            return {"deleted_id": to_global_id("Role", row["id"])}

        return await payload(DeleteRolePayload, run, info, input, staff.delete_role)

    @strawberry.mutation(description="Create a team below one of your team set (at the top: ALL scope only). Needs role.manage.")
    async def create_team(
        self, info: Info, input: Annotated[CreateTeamInput, strawberry.argument(description="The new team.")]
    ) -> TeamPayload:
        async def run() -> dict[str, Any]:
            row = await staff.create_team(info.context.scope, input.name, _team_pk(input.parent_id, "parentId"))
            return {"team": row}

        return await payload(TeamPayload, run, info, input, staff.create_team)

    @strawberry.mutation(description="Rename or move a team of your team set, only to below another of it (never below itself: CYCLE). Needs role.manage.")
    async def update_team(
        self, info: Info, input: Annotated[UpdateTeamInput, strawberry.argument(description="The changes.")]
    ) -> TeamPayload:
        async def run() -> dict[str, Any]:
            changes = input_dict(input, exclude={"id"})
            if "parent_id" in changes:
                changes["parent_id"] = _team_pk(changes["parent_id"], "parentId")
            if changes.get("lead_id") is not None:
                changes["lead_id"] = node_pk(changes["lead_id"], "leadId", "User")
            row = await staff.update_team(info.context.scope, node_pk(input.id, "id", "Team"), changes)
            return {"team": row}

        return await payload(TeamPayload, run, info, input, staff.update_team)
