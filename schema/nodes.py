"""``node(id:)`` and ``nodes(ids:)``: any object by its global ID, through the same scope."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

import strawberry

from models.errors import DomainError
from models.pagination import MAX_PAGE_SIZE
from schema.audit import AuditEvent
from schema.context import Info
from schema.customers import Customer
from schema.errors import ClientError, bad_input
from schema.graph import CustomerLink
from schema.ids import from_global_id
from schema.interactions import Interaction
from schema.orders import Order
from schema.relay import Node
from schema.staff import Role, Team, User
from schema.tokens import ApiToken

__all__ = ["NodeQueries"]

# type name -> (loader attribute, constructor)
_TYPES: dict[str, tuple[str, Callable[[dict[str, Any]], Node]]] = {
    "Customer": ("customer", Customer.from_row),
    "CustomerLink": ("link", CustomerLink.from_row),
    "Interaction": ("interaction", Interaction.from_row),
    "Order": ("order", Order.from_row),
    "User": ("user", User.from_row),
    "Role": ("role", Role.from_row),
    "Team": ("team", Team.from_row),
    "ApiToken": ("api_token", ApiToken.from_row),
    "AuditEvent": ("audit_event", AuditEvent.from_row),
}


def _decode(global_id: str, field: str) -> tuple[str, int]:
    try:
        return from_global_id(global_id, field)
    except DomainError as error:
        raise bad_input(error) from None


async def _load(info: Info, type_name: str, pk: int) -> Node | None:
    loader_name, make = _TYPES[type_name]
    row = await getattr(info.context.loaders, loader_name).load(pk)
    return make(row) if row else None


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Any object by its global ID; null when there is none or it is not visible.")
    async def node(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="A global ID.")]
    ) -> Node | None:
        return await _load(info, *_decode(id, "id"))

    @strawberry.field(description=f"Objects by global ID, in the order asked; null where absent. At most {MAX_PAGE_SIZE}.")
    async def nodes(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description=f"Global IDs, at most {MAX_PAGE_SIZE}.")],
    ) -> list[Node | None]:
        if len(ids) > MAX_PAGE_SIZE:
            raise ClientError(f"ask for at most {MAX_PAGE_SIZE} ids at a time.", field="ids")
        decoded = [_decode(global_id, "ids") for global_id in ids]
        # gather, so that the loaders see every id at once and batch them.
        return list(await asyncio.gather(*(_load(info, *pair) for pair in decoded)))
