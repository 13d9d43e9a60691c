"""The public pool (公海) in GraphQL: your team's customers without an owner, claimed and released."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from models import pool
from schema import customers as customer_types
from schema.context import Info
from schema.errors import UserError, or_bad_input
from schema.ids import to_global_id
from schema.mutations import Idempotent, change
from schema.relay import PAGE_ARGS_DOC, Connection, connection, page_args

if TYPE_CHECKING:
    from schema.customers import Customer

__all__ = ["PoolEvent", "PoolMutations", "PoolQueries"]

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]


@strawberry.enum(description="A move of a customer to or from its team's public pool.")
class PoolEventKind(Enum):
    RELEASED = "customer.release"
    CLAIMED = "customer.claim"


@strawberry.type(description="A customer released to its team's pool, or claimed from it: the timeline of who owns it.")
class PoolEvent:
    kind: PoolEventKind = strawberry.field(description="RELEASED or CLAIMED.")
    at: datetime = strawberry.field(description="When.")
    actor_pk: strawberry.Private[int | None]
    from_owner_pk: strawberry.Private[int | None]
    to_owner_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PoolEvent:
        return cls(kind=PoolEventKind(row["action"]), at=row["at"], actor_pk=row["actor_user_id"],
                   from_owner_pk=row["from_owner_id"], to_owner_pk=row["to_owner_id"])

    @strawberry.field(description="Who did it, by User ID; null for the sweep.")
    def actor_id(self) -> strawberry.ID | None:
        return None if self.actor_pk is None else to_global_id("User", self.actor_pk)

    @strawberry.field(description="The owner before, by User ID.")
    def from_owner_id(self) -> strawberry.ID | None:
        return None if self.from_owner_pk is None else to_global_id("User", self.from_owner_pk)

    @strawberry.field(description="The owner after, by User ID (null: the pool).")
    def to_owner_id(self) -> strawberry.ID | None:
        return None if self.to_owner_pk is None else to_global_id("User", self.to_owner_pk)


def _arg(name: str) -> Any:
    return strawberry.argument(description=PAGE_ARGS_DOC[name])


@strawberry.type
class PoolQueries:
    @strawberry.field(description="Your team's public pool: its customers without an owner, the latest released first. Needs customer.claim.")
    async def customer_pool(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
    ) -> Connection[CustomerRef]:
        from schema.customers import Customer

        scope = info.context.scope
        columns = customer_types.columns(info, "edges", "node")
        page = await or_bad_input(pool.customer_pool(scope, page_args(first, after, None, None), columns))
        return connection(page, Customer.from_row, lambda: pool.count_pool(scope))


@strawberry.input(description="A customer of your team's pool to claim, or one to give back to it.")
class PoolCustomerInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The customer.")


@strawberry.type(description="The result of a claim or a release.")
class PoolPayload:
    customer: CustomerRef | None = strawberry.field(description="The customer as it is now; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why it was refused (TAKEN: someone claimed it first); empty on success.")


@strawberry.type
class PoolMutations:
    @strawberry.mutation(description="Claim a customer of your team's pool as your own (customer.claim), within the day's limit.")
    async def claim_customer(
        self, info: Info, input: Annotated[PoolCustomerInput, strawberry.argument(description="The customer.")]
    ) -> PoolPayload:
        return await change(PoolPayload, info, input, pool.claim_customer)

    @strawberry.mutation(description="Give a customer you see back to its team's pool: its owner is cleared.")
    async def release_customer(
        self, info: Info, input: Annotated[PoolCustomerInput, strawberry.argument(description="The customer.")]
    ) -> PoolPayload:
        return await change(PoolPayload, info, input, pool.release_customer)
