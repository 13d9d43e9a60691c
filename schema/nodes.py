"""``node(id:)`` and ``nodes(ids:)``: any object by its global ID, through the same scope."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry

from models.errors import DomainError
from models.pagination import MAX_PAGE_SIZE
from schema.audit import AuditEvent
from schema.context import Info
from schema.customers import load_customer
from schema.errors import ClientError, bad_input
from schema.graph import CustomerLink
from schema.ids import from_global_id
from schema.interactions import Interaction
from schema.orders import Order
from schema.relay import Node
from schema.staff import Role, Team, User
from schema.tokens import ApiToken

__all__ = ["NodeQueries"]

Load = Callable[[Info, int], Awaitable[Node | None]]


def _from_loader(loader: str, make: Callable[[dict[str, Any]], Node]) -> Load:
    async def load(info: Info, pk: int) -> Node | None:
        row = await getattr(info.context.loaders, loader).load(pk)
        return make(row) if row else None

    return load


# type name -> how one is loaded; a customer with the columns the selection reads
_TYPES: dict[str, Load] = {
    "Customer": load_customer,
    "CustomerLink": _from_loader("link", CustomerLink.from_row),
    "Interaction": _from_loader("interaction", Interaction.from_row),
    "Order": _from_loader("order", Order.from_row),
    "User": _from_loader("user", User.from_row),
    "Role": _from_loader("role", Role.from_row),
    "Team": _from_loader("team", Team.from_row),
    "ApiToken": _from_loader("api_token", ApiToken.from_row),
    "AuditEvent": _from_loader("audit_event", AuditEvent.from_row),
}


def _decode(global_id: str, field: str) -> tuple[str, int]:
    try:
        return from_global_id(global_id, field)
    except DomainError as error:
        raise bad_input(error) from None


async def _load(info: Info, type_name: str, pk: int) -> Node | None:
    return await _TYPES[type_name](info, pk)


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
