"""The customer graph in GraphQL: referral trees and stats, links, and their mutations."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from models import graph
from models.graph import LinkKind
from schema import customers as customer_types
from schema.context import Info
from schema.errors import UserError
from schema.ids import to_global_id
from schema.mutations import Idempotent, payload
from schema.orders import Money
from schema.relay import Node

if TYPE_CHECKING:
    from schema.customers import Customer

__all__ = ["CustomerLink", "GraphMutations", "ReferralStats", "ReferralTreeEntry"]

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]

strawberry.enum(LinkKind, name="LinkKind", description="How two customers are tied.")


@strawberry.enum(description="Which way a link points, seen from the customer whose links are listed.")
class LinkDirection(Enum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"


@strawberry.type(description="A customer somewhere below another in the referral tree.")
class ReferralTreeEntry:
    level: int = strawberry.field(description="1 for a direct referral, 2 for a referral's referral, and so on.")
    customer: CustomerRef = strawberry.field(description="The downstream customer.")


@strawberry.type(description="A referrer's reach: everyone downstream, at any depth.")
class ReferralStats:
    direct_count: int = strawberry.field(description="Customers referred directly.")
    downstream_count: int = strawberry.field(description="Customers referred directly or down the chain.")
    max_depth: int = strawberry.field(description="Levels in the deepest chain below; 0 without referrals.")
    downstream_revenue: list[Money] = strawberry.field(
        description="Paid orders of everyone downstream, one entry per currency, largest first."
    )

    @classmethod
    def from_stats(cls, stats: graph.ReferralStats) -> ReferralStats:
        return cls(
            direct_count=stats.direct_count,
            downstream_count=stats.downstream_count,
            max_depth=stats.max_depth,
            downstream_revenue=[Money.of(a, c) for a, c in stats.downstream_revenue],
        )


@strawberry.type(description="A secondary-customer tie between two customers.")
class CustomerLink(Node):
    loader = "link"
    pk: strawberry.Private[int]
    from_pk: strawberry.Private[int]
    to_pk: strawberry.Private[int]
    owner_pk: strawberry.Private[int]
    kind: LinkKind = strawberry.field(description="How the two are tied. SUBSIDIARY: `to` belongs to `from`.")
    note: str = strawberry.field(description="A note on the tie.")
    created_at: datetime = strawberry.field(description="When the tie was recorded.")

    @classmethod
    def from_row(cls, row: dict[str, Any], owner_pk: int | None = None) -> CustomerLink:
        return cls(
            id=to_global_id("CustomerLink", row["id"]),
            pk=row["id"],
            from_pk=row["from_customer_id"],
            to_pk=row["to_customer_id"],
            owner_pk=row["from_customer_id"] if owner_pk is None else owner_pk,
            kind=LinkKind(row["kind"]),
            note=row["note"],
            created_at=row["created_at"],
        )

    @strawberry.field(description="OUTGOING when the listed customer is `from`, INCOMING when it is `to`.")
    def direction(self) -> LinkDirection:
        return LinkDirection.OUTGOING if self.owner_pk == self.from_pk else LinkDirection.INCOMING

    @strawberry.field(description="The customer at the other end from the listed one (from `from` via node(id:)).")
    async def customer(self, info: Info) -> CustomerRef | None:
        other = self.to_pk if self.owner_pk == self.from_pk else self.from_pk
        return await customer_types.load_customer(info, other)

    @strawberry.field(name="from", description="The customer the link was recorded from.")
    async def from_customer(self, info: Info) -> CustomerRef | None:
        return await customer_types.load_customer(info, self.from_pk)

    @strawberry.field(name="to", description="The customer the link was recorded to.")
    async def to_customer(self, info: Info) -> CustomerRef | None:
        return await customer_types.load_customer(info, self.to_pk)


@strawberry.input(description="Set or clear who referred a customer.")
class SetReferrerInput(Idempotent):
    customer_id: strawberry.ID = strawberry.field(description="The referred customer.")
    referrer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The referrer; null clears it. Refused when it would make a loop."
    )


@strawberry.type(description="The result of setReferrer.")
class SetReferrerPayload:
    customer: CustomerRef | None = strawberry.field(description="The referred customer as it is now.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.input(description="Tie two customers together.")
class LinkCustomersInput(Idempotent):
    from_id: strawberry.ID = strawberry.field(description="One customer.")
    to_id: strawberry.ID = strawberry.field(description="The other customer (for SUBSIDIARY, the subsidiary).")
    kind: LinkKind = strawberry.field(description="How they are tied.")
    note: str | None = strawberry.field(default=None, description="A note, at most 500 characters.")


@strawberry.type(description="The result of linkCustomers.")
class LinkCustomersPayload:
    link: CustomerLink | None = strawberry.field(description="The new link; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.input(description="Remove a tie. It matches whichever way round it was recorded, except SUBSIDIARY, which points from parent to subsidiary.")
class UnlinkCustomersInput(Idempotent):
    from_id: strawberry.ID = strawberry.field(description="One customer.")
    to_id: strawberry.ID = strawberry.field(description="The other customer.")
    kind: LinkKind = strawberry.field(description="The kind of tie to remove.")


@strawberry.type(description="The result of unlinkCustomers.")
class UnlinkCustomersPayload:
    unlinked_id: strawberry.ID | None = strawberry.field(description="The removed link's global ID.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.type
class GraphMutations:
    @strawberry.mutation(
        description=(
            "Set or clear a customer's referrer; a loop (A refers B refers A) is refused as CYCLE, counted like DUPLICATE. "
            "A referrer outside your scope is not yours to clear or replace (FORBIDDEN)."
        )
    )
    async def set_referrer(
        self, info: Info, input: Annotated[SetReferrerInput, strawberry.argument(description="Who referred whom.")]
    ) -> SetReferrerPayload:
        async def run() -> dict[str, Any]:
            pk = customer_types.customer_id(input.customer_id, "customerId")
            referrer = customer_types.customer_id(input.referrer_id, "referrerId") if input.referrer_id is not None else None
            row = await graph.set_referrer(info.context.scope, pk, referrer)
            return {"customer": row}

        return await payload(SetReferrerPayload, run, info, input, graph.set_referrer)

    @strawberry.mutation(description="Link two customers; the same pair and kind twice is DUPLICATE.")
    async def link_customers(
        self, info: Info, input: Annotated[LinkCustomersInput, strawberry.argument(description="The tie.")]
    ) -> LinkCustomersPayload:
        async def run() -> dict[str, Any]:
            from_pk = customer_types.customer_id(input.from_id, "fromId")
            to_pk = customer_types.customer_id(input.to_id, "toId")
            row = await graph.link_customers(info.context.scope, from_pk, to_pk, input.kind, input.note)
            return {"link": row}

        return await payload(LinkCustomersPayload, run, info, input, graph.link_customers)

    @strawberry.mutation(description="Remove a link between two customers.")
    async def unlink_customers(
        self, info: Info, input: Annotated[UnlinkCustomersInput, strawberry.argument(description="The tie to remove.")]
    ) -> UnlinkCustomersPayload:
        async def run() -> dict[str, Any]:
            from_pk = customer_types.customer_id(input.from_id, "fromId")
            to_pk = customer_types.customer_id(input.to_id, "toId")
            row = await graph.unlink_customers(info.context.scope, from_pk, to_pk, input.kind)
            return {"unlinked_id": to_global_id("CustomerLink", row["id"])}

        return await payload(UnlinkCustomersPayload, run, info, input, graph.unlink_customers)
