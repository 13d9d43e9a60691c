"""Who is asking: ``me``, and ``login`` for apps that sign in with email and password."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from models import access, tokens
from models.errors import DomainError, ErrorCode
from models.permissions import DataScope
from schema.context import Info
from schema.errors import UserError
from schema.ids import to_global_id
from schema.mutations import payload

__all__ = ["AccessMutations", "AccessQueries"]

strawberry.enum(
    DataScope,
    name="DataScope",
    description=(
        "Which customers a role sees, and what its managers reach: OWN, the customers you own and only yourself; "
        "TEAM, your team's customers, staff, tokens and team; TEAM_AND_SUBTEAMS, those of your team and the teams "
        "below it; ALL, everything. Several roles: the widest wins."
    ),
)


@strawberry.type(description="The signed-in staff member and what they may do.")
class Me:
    id: strawberry.ID = strawberry.field(
        description="The caller's `User` global ID: for tokens of their own and for what is assigned to them."
    )
    email: str = strawberry.field(description="Sign-in email, lower case.")
    display_name: str = strawberry.field(description="Name shown to colleagues.")
    permissions: list[str] = strawberry.field(description="Permission codes from all roles, sorted.")
    data_scope: DataScope = strawberry.field(description="The widest data scope of the roles.")


@strawberry.type
class AccessQueries:
    @strawberry.field(description="The caller; null for an anonymous request.")
    async def me(self, info: Info) -> Me | None:
        viewer = info.context.scope.viewer
        if viewer is None:
            return None
        user = await access.User.get(id=viewer.user_id)
        return Me(
            id=to_global_id("User", user.id),
            email=user.email,
            display_name=user.display_name,
            permissions=sorted(viewer.permissions),
            data_scope=viewer.scope,
        )


@strawberry.input(description="Email and password of a staff account.")
class LoginInput:
    email: str = strawberry.field(description="Sign-in email.")
    password: str = strawberry.field(description="Password.")


@strawberry.type(description="The result of login.")
class LoginPayload:
    token: str | None = strawberry.field(
        description="A bearer token for `Authorization: Bearer …`, valid 30 days. Shown once; kehu keeps only its hash."
    )
    expires_at: datetime | None = strawberry.field(description="When the token stops working.")
    errors: list[UserError] = strawberry.field(description="Why sign-in failed; empty on success.")


@strawberry.type
class AccessMutations:
    @strawberry.mutation(
        description="Sign in. Five failures lock the account for 15 minutes; every failure answers alike."
    )
    async def login(self, info: Info, input: Annotated[LoginInput, strawberry.argument(description="The credentials.")]) -> LoginPayload:
        async def run() -> dict[str, Any]:
            client_ip = info.context.scope.client_ip
            viewer = await access.authenticate(input.email, input.password, client_ip)
            if viewer is None:
                raise DomainError.single(
                    None, "the email or password is wrong, or the account is locked.", ErrorCode.INVALID
                )
            token, secret = await tokens.issue_login_token(viewer, client_ip)
            return {"token": secret, "expires_at": token["expires_at"]}

        return await payload(LoginPayload, run)
