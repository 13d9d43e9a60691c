"""``node(id:)`` and ``nodes(ids:)``: any object by its global ID, through the same scope."""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry

from models.errors import DomainError
from models.pagination import MAX_PAGE_SIZE
from schema.audit import AuditEvent
from schema.complaints import Complaint
from schema.context import Info
from schema.customers import Customer
from schema.errors import ClientError, bad_input
from schema.follow_ups import FollowUp
from schema.graph import CustomerLink
from schema.ids import from_global_id
from schema.interactions import Interaction
from schema.loyalty import PointsEntry
from schema.orders import Order
from schema.relay import Node
from schema.saved_segments import SavedSegment
from schema.staff import Role, Team, User
from schema.tokens import ApiToken

__all__ = ["NodeQueries"]

# Every type fetchable by global ID, each read through its own loader (``Node.load``).
_TYPES: dict[str, type[Node]] = {
    node.__name__: node
    for node in (
        Customer, CustomerLink, Interaction, Order, Complaint, FollowUp, User, Role, Team, ApiToken, AuditEvent, SavedSegment,
        PointsEntry,
    )
}


def _decode(global_id: str, field: str) -> tuple[str, int]:
    try:
        return from_global_id(global_id, field)
    except DomainError as error:
        raise bad_input(error) from None


async def _load(info: Info, type_name: str, pk: int) -> Node | None:
    node = _TYPES.get(type_name)  # a timeline event or a notification is read through its complaint
    return None if node is None else await node.load(info, pk)


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
