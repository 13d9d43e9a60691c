"""API tokens in GraphQL: list, create (the secret shown once), revoke, and logout."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from models import tokens
from models.errors import DomainError, ErrorCode
from schema.context import Info
from schema.errors import UserError, or_bad_input
from schema.ids import to_global_id
from schema.mutations import Idempotent, payload
from schema.relay import PAGE_ARGS_DOC, Connection, Node, connection, page_args
from schema.staff import User, node_pk

__all__ = ["ApiToken", "TokenMutations", "TokenQueries"]


@strawberry.type(description="A bearer token for an integration or an app; its secret is never shown again.")
class ApiToken(Node):
    loader = "api_token"
    pk: strawberry.Private[int]
    user_pk: strawberry.Private[int]
    name: str = strawberry.field(description='What the token is for; "login" for one made by sign-in.')
    expires_at: datetime | None = strawberry.field(description="When it stops working; null for never.")
    last_used_at: datetime | None = strawberry.field(description="When it was last used, to the minute.")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked; null while live.")
    created_at: datetime = strawberry.field(description="When it was made.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ApiToken:
        return cls(
            id=to_global_id("ApiToken", row["id"]), pk=row["id"], user_pk=row["user_id"], name=row["name"],
            expires_at=row["expires_at"], last_used_at=row["last_used_at"], revoked_at=row["revoked_at"],
            created_at=row["created_at"],
        )

    @strawberry.field(description="Whose rights the token acts with.")
    async def user(self, info: Info) -> User | None:
        row = await info.context.loaders.user.load(self.user_pk)
        return User.from_row(row) if row else None


@strawberry.type
class TokenQueries:
    @strawberry.field(description="API tokens, newest first: your own, and with token.manage those of staff in your team set whose rights are within yours.")
    async def api_tokens(
        self,
        info: Info,
        user_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this user's tokens.")] = None,
        first: Annotated[int | None, strawberry.argument(description=PAGE_ARGS_DOC["first"])] = None,
        after: Annotated[str | None, strawberry.argument(description=PAGE_ARGS_DOC["after"])] = None,
        last: Annotated[int | None, strawberry.argument(description=PAGE_ARGS_DOC["last"])] = None,
        before: Annotated[str | None, strawberry.argument(description=PAGE_ARGS_DOC["before"])] = None,
    ) -> Connection[ApiToken]:
        scope, args = info.context.scope, page_args(first, after, last, before)

        async def fetch():
            user = node_pk(user_id, "userId", "User") if user_id is not None else None
            return await tokens.list_api_tokens(scope, user, args), user

        page, user = await or_bad_input(fetch())
        return connection(page, ApiToken.from_row, lambda: tokens.count_api_tokens(scope, user))


@strawberry.input(description="A new API token.")
class CreateApiTokenInput:
    name: str = strawberry.field(description="What it is for, at most 100 characters.")
    user_id: strawberry.ID = strawberry.field(description="Whose rights it acts with; never more than your own.")
    expires_at: datetime | None = strawberry.field(default=None, description="When it stops working; never by default.")


@strawberry.type(description="The result of createApiToken.")
class CreateApiTokenPayload:
    token: str | None = strawberry.field(description="The secret, shown this once: kehu keeps only its hash.")
    api_token: ApiToken | None = strawberry.field(description="The new token's record; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.input(description="The token to revoke.")
class RevokeApiTokenInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The token's global ID.")


@strawberry.type(description="The result of revokeApiToken.")
class RevokeApiTokenPayload:
    api_token: ApiToken | None = strawberry.field(description="The revoked token; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.type(description="The result of logout.")
class LogoutPayload:
    revoked: bool | None = strawberry.field(description="True: the token of this request is revoked; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why nothing was revoked; empty on success.")


@strawberry.type
class TokenMutations:
    @strawberry.mutation(description="Make an API token for a user of your team set whose rights are within yours; the payload carries the secret once. Needs token.manage.")
    async def create_api_token(
        self, info: Info, input: Annotated[CreateApiTokenInput, strawberry.argument(description="The token.")]
    ) -> CreateApiTokenPayload:
        async def run() -> dict[str, Any]:
            user = node_pk(input.user_id, "userId", "User")
            row, secret = await tokens.create_api_token(info.context.scope, user, input.name, input.expires_at)
            return {"token": secret, "api_token": row}

        return await payload(CreateApiTokenPayload, run, info, input)

    @strawberry.mutation(description="Revoke a token: the next request with it is refused. Your own without token.manage.")
    async def revoke_api_token(
        self, info: Info, input: Annotated[RevokeApiTokenInput, strawberry.argument(description="The token.")]
    ) -> RevokeApiTokenPayload:
        async def run() -> dict[str, Any]:
            row = await tokens.revoke_api_token(info.context.scope, node_pk(input.id, "id", "ApiToken"))
            return {"api_token": row}

        return await payload(RevokeApiTokenPayload, run, info, input, tokens.revoke_api_token)

    @strawberry.mutation(description="Sign out: revoke the bearer token this request carries.")
    async def logout(self, info: Info) -> LogoutPayload:
        async def run() -> dict[str, Any]:
            viewer = info.context.scope.viewer
            if viewer is None or viewer.token_id is None:
                raise DomainError.single(None, "this request carries no bearer token.", ErrorCode.INVALID)
            await tokens.revoke_api_token(info.context.scope, viewer.token_id)
            return {"revoked": True}

        return await payload(LogoutPayload, run)
