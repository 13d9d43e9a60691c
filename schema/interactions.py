"""Interactions in GraphQL: the type and logInteraction."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from models import interactions
from models.interactions import Direction, InteractionKind
from schema import customers as customer_types
from schema.context import Info
from schema.errors import UserError
from schema.ids import to_global_id
from schema.mutations import Idempotent, input_dict, payload
from schema.relay import Node

if TYPE_CHECKING:
    from schema.customers import Customer

__all__ = ["Interaction", "InteractionMutations"]

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]

strawberry.enum(InteractionKind, name="InteractionKind", description="How the business and the customer met.")
strawberry.enum(Direction, name="InteractionDirection", description="Who reached out.")


@strawberry.type(description="A touch with a customer: a call, a message, a visit, a note.")
class Interaction(Node):
    loader = "interaction"
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]
    kind: InteractionKind = strawberry.field(description="Call, email, SMS, WeChat, visit, meeting or note.")
    direction: Direction = strawberry.field(description="INBOUND when the customer reached out.")
    channel: str | None = strawberry.field(description="The channel used, such as a WeChat account or a phone line.")
    occurred_at: datetime = strawberry.field(description="When it happened.")
    summary: str = strawberry.field(description="What was said or done.")
    outcome: str | None = strawberry.field(description="What came of it.")
    created_at: datetime = strawberry.field(description="When it was logged.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Interaction:
        return cls(
            id=to_global_id("Interaction", row["id"]),
            pk=row["id"],
            customer_pk=row["customer_id"],
            kind=InteractionKind(row["kind"]),
            direction=Direction(row["direction"]),
            channel=row["channel"],
            occurred_at=row["occurred_at"],
            summary=row["summary"],
            outcome=row["outcome"],
            created_at=row["created_at"],
        )

    @strawberry.field(description="The customer it was with.")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await customer_types.load_customer(info, self.customer_pk)


@strawberry.input(description="An interaction to add to a customer's timeline.")
class LogInteractionInput(Idempotent):
    customer_id: strawberry.ID = strawberry.field(description="The customer it was with.")
    kind: InteractionKind = strawberry.field(description="How you met.")
    direction: Direction = strawberry.field(description="Who reached out.")
    channel: str | None = strawberry.field(default=None, description="The channel used, at most 64 characters.")
    occurred_at: datetime | None = strawberry.field(default=None, description="When it happened; now by default, never in the future.")
    summary: str = strawberry.field(description="What was said or done, at most 5,000 characters.")
    outcome: str | None = strawberry.field(default=None, description="What came of it, at most 500 characters.")


@strawberry.type(description="The result of logInteraction.")
class LogInteractionPayload:
    interaction: Interaction | None = strawberry.field(description="The logged interaction; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.type
class InteractionMutations:
    @strawberry.mutation(description="Add an interaction to a customer's timeline.")
    async def log_interaction(
        self, info: Info, input: Annotated[LogInteractionInput, strawberry.argument(description="The interaction.")]
    ) -> LogInteractionPayload:
        async def run() -> dict[str, Any]:
            pk = customer_types.customer_id(input.customer_id, "customerId")
            data = input_dict(input, exclude={"customer_id"})
            row = await interactions.log_interaction(info.context.scope, pk, data)
            return {"interaction": row}

        return await payload(LogInteractionPayload, run, info, input, interactions.log_interaction)
