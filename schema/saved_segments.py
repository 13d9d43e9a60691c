"""Saved segments in GraphQL: named customer filters, evaluated live under the reader's scope."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from models import saved_segments
from models.errors import DomainError
from schema import customers as customer_types
from schema.context import Info
from schema.errors import UserError, bad_input, or_bad_input
from schema.ids import from_global_id, to_global_id
from schema.mutations import Idempotent, change, payload
from schema.relay import PAGE_ARGS_DOC, Connection, Node, page_args

if TYPE_CHECKING:
    from schema.customers import Customer, CustomerFilterInput, CustomerOrderByInput

__all__ = ["SavedSegment", "SavedSegmentMutations", "SavedSegmentQueries"]

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]
FilterInput = Annotated["CustomerFilterInput", strawberry.lazy("schema.customers")]
OrderByInput = Annotated["CustomerOrderByInput", strawberry.lazy("schema.customers")]
# The kept filter as ``CustomerFilterInput`` spells it: what a client sends back to change it.
_INPUT_NAMES = {"sources": "source"}
_NODE_IDS = {"owner_ids": "User", "team_ids": "Team"}


def _as_input(kept: dict[str, Any]) -> dict[str, Any]:
    spelled = {}
    for name, value in kept.items():
        if name in _NODE_IDS:
            value = [to_global_id(_NODE_IDS[name], pk) for pk in value]
        elif name in ("tiers", "stages", "sources"):
            value = [item.upper() for item in value]
        spelled[re.sub(r"_([a-z])", lambda m: m.group(1).upper(), _INPUT_NAMES.get(name, name))] = value
    return spelled


def _arg(name: str) -> Any:
    return strawberry.argument(description=PAGE_ARGS_DOC[name])


@strawberry.type(description="A saved segment: a named customer filter whose customers are read live, under your scope.")
class SavedSegment(Node):
    loader = "saved_segment"
    pk: strawberry.Private[int]
    owner_pk: strawberry.Private[int]
    kept: strawberry.Private[Any]
    name: str = strawberry.field(description="Its name, unique among its owner's segments.")
    shared: bool = strawberry.field(description="Seen by all staff who read customers (changed by its owner only).")
    created_at: datetime = strawberry.field(description="When it was saved first.")
    updated_at: datetime = strawberry.field(description="When it was last changed.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SavedSegment:
        return cls(
            id=to_global_id("SavedSegment", row["id"]), pk=row["id"], owner_pk=row["owner_id"], kept=row["filter"],
            name=row["name"], shared=row["shared"], created_at=row["created_at"], updated_at=row["updated_at"],
        )

    @strawberry.field(description="Its owner's User ID.")
    def owner_id(self) -> strawberry.ID:
        return to_global_id("User", self.owner_pk)

    @strawberry.field(
        description="The filter it keeps, spelled as CustomerFilterInput; its search text only for its owner and holders of "
        "customer.pii (it may be a phone number)."
    )
    def filter(self, info: Info) -> JSON:
        return _as_input(saved_segments.shown_conditions(info.context.scope, {"filter": self.kept, "owner_id": self.owner_pk}))

    @strawberry.field(description="The customers you see that the filter picks now, with totalCount.")
    async def customers(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        last: Annotated[int | None, _arg("last")] = None,
        before: Annotated[str | None, _arg("before")] = None,
        order_by: Annotated[OrderByInput | None, strawberry.argument(description="How to sort the list.")] = None,
    ) -> Connection[CustomerRef]:
        return await customer_types.customer_list(info, lambda: self.kept, page_args(first, after, last, before), order_by)


@strawberry.type
class SavedSegmentQueries:
    @strawberry.field(description="A saved segment: yours or a shared one; null otherwise.")
    async def segment(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The segment's ID.")]
    ) -> SavedSegment | None:
        try:
            pk = from_global_id(id, "id", "SavedSegment")[1]
        except DomainError as error:
            raise bad_input(error) from None
        return await SavedSegment.load(info, pk)

    @strawberry.field(description="Your saved segments and the shared ones, by name.")
    async def saved_segments(self, info: Info) -> list[SavedSegment]:
        return [SavedSegment.from_row(row) for row in await or_bad_input(saved_segments.saved_segments(info.context.scope))]


@strawberry.input(description="A segment to save: a new one, or one of yours by `id`.")
class SaveSegmentInput(Idempotent):
    name: str = strawberry.field(description="Its name, at most 100 characters, unique among yours.")
    filter: FilterInput = strawberry.field(description="The conditions it keeps.")
    shared: bool = strawberry.field(default=False, description="Let all staff who read customers see it.")
    id: strawberry.ID | None = strawberry.field(default=None, description="The segment to change; none to save a new one.")


@strawberry.input(description="A segment of yours to delete.")
class DeleteSegmentInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The segment.")


@strawberry.type(description="The result of a change to a saved segment.")
class SavedSegmentPayload:
    segment: SavedSegment | None = strawberry.field(description="The segment after the change (before, when deleted); null when refused.")
    errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type
class SavedSegmentMutations:
    @strawberry.mutation(description="Save a customer filter under a name, or change one of yours.")
    async def save_segment(
        self, info: Info, input: Annotated[SaveSegmentInput, strawberry.argument(description="The segment.")]
    ) -> SavedSegmentPayload:
        async def run() -> dict[str, Any]:
            pk = None if input.id is None else from_global_id(input.id, "id", "SavedSegment")[1]
            row = await saved_segments.save_segment(info.context.scope, input.name, input.filter.to_domain(), input.shared, pk)
            return {"segment": row}

        return await payload(SavedSegmentPayload, run, info, input, saved_segments.save_segment)

    @strawberry.mutation(description="Delete a saved segment of yours.")
    async def delete_segment(
        self, info: Info, input: Annotated[DeleteSegmentInput, strawberry.argument(description="The segment.")]
    ) -> SavedSegmentPayload:
        return await change(SavedSegmentPayload, info, input, saved_segments.delete_segment)
