"""How failures reach clients.

Expected failures of a mutation are ``errors: [UserError!]!`` in its payload. Expected
failures of a query (a malformed id, a ``first`` over 100) are top-level errors with an
``extensions.code``. Anything else is a bug: masked, with a request id (see masking.py).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import strawberry
from graphql import GraphQLError

from models.errors import DomainError, ErrorCode, FieldError
from schema.ids import to_global_id

__all__ = ["ClientError", "ErrorCode", "UserError", "bad_input", "or_bad_input", "user_errors"]


T = TypeVar("T")

strawberry.enum(ErrorCode, name="ErrorCode", description="Why a mutation refused its input.")


@strawberry.type(description="An expected failure of a mutation; nothing was changed.")
class UserError:
    field: str | None = strawberry.field(
        description="The input field at fault (camelCase), or null when the whole input is."
    )
    message: str = strawberry.field(description="What is wrong, for a person to read.")
    code: ErrorCode = strawberry.field(description="What is wrong, for a program to branch on.")
    existing_id: strawberry.ID | None = strawberry.field(
        default=None, description="For DUPLICATE: the global ID of the record that already holds the value."
    )


def _from_field_error(error: FieldError) -> UserError:
    existing = to_global_id(*error.existing) if error.existing else None
    return UserError(
        field=error.field, message=error.message, code=error.code, existing_id=existing
    )


def user_errors(error: DomainError) -> list[UserError]:
    return [_from_field_error(e) for e in error.errors]


class ClientError(GraphQLError):
    """A top-level error the client caused, with a stable ``extensions.code``."""

    def __init__(self, message: str, code: str = "BAD_USER_INPUT", field: str | None = None):
        extensions = {"code": code}
        if field:
            extensions["field"] = field
        super().__init__(message, extensions=extensions)

    def with_location(self, error: GraphQLError) -> GraphQLError:
        """This error where ``error`` happened (its path and position in the document)."""
        return GraphQLError(self.message, error.nodes, error.source, error.positions, error.path, None, self.extensions)


_TOP_LEVEL_CODES = {ErrorCode.NOT_FOUND: "NOT_FOUND", ErrorCode.FORBIDDEN: "FORBIDDEN"}


def bad_input(error: DomainError) -> ClientError:
    first = error.errors[0]
    return ClientError(str(error), code=_TOP_LEVEL_CODES.get(first.code, "BAD_USER_INPUT"), field=first.field)


async def or_bad_input(awaitable: Awaitable[T]) -> T:
    """A query's domain call; what the domain refuses becomes a top-level client error."""
    try:
        return await awaitable
    except DomainError as error:
        raise bad_input(error) from None
