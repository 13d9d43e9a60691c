"""Follow-ups and birthdays in GraphQL: whom to call, by when, and what came of it."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from models import birthdays, follow_ups
from models.follow_ups import FollowUpStatus
from models.interactions import InteractionKind
from schema import customers as customer_types
from schema.context import Info
from schema.errors import UserError, or_bad_input
from schema.ids import from_global_id, to_global_id
from schema.mutations import Idempotent, change, input_dict, payload
from schema.relay import PAGE_ARGS_DOC, Connection, Node, connection, page_args

if TYPE_CHECKING:
    from schema.customers import Customer
    from schema.interactions import Interaction

__all__ = ["FollowUp", "FollowUpMutations", "FollowUpQueries"]

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]
InteractionRef = Annotated["Interaction", strawberry.lazy("schema.interactions")]

strawberry.enum(FollowUpStatus, name="FollowUpStatus", description="OPEN until done (with an outcome) or cancelled.")


@strawberry.type(description="A follow-up (定期跟踪): who calls which customer by when, and what came of it.")
class FollowUp(Node):
    loader = "follow_up"
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]
    assignee_pk: strawberry.Private[int]
    interaction_pk: strawberry.Private[int | None]
    due_on: date = strawberry.field(description="The day it is due, in the business's calendar.")
    purpose: str = strawberry.field(description="What it is for.")
    status: FollowUpStatus = strawberry.field(description="OPEN, DONE or CANCELLED.")
    outcome: str | None = strawberry.field(description="What came of it, once done.")
    created_at: datetime = strawberry.field(description="When it was scheduled.")
    closed_at: datetime | None = strawberry.field(description="When it was done or cancelled.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FollowUp:
        return cls(
            id=to_global_id("FollowUp", row["id"]), pk=row["id"], customer_pk=row["customer_id"],
            assignee_pk=row["assignee_id"], interaction_pk=row["interaction_id"], due_on=row["due_on"],
            purpose=row["purpose"], status=FollowUpStatus(row["status"]), outcome=row["outcome"],
            created_at=row["created_at"], closed_at=row["closed_at"],
        )

    @strawberry.field(description="The customer to follow up.")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await customer_types.load_customer(info, self.customer_pk)

    @strawberry.field(description="Who is to do it: their User ID.")
    def assignee_id(self) -> strawberry.ID:
        return to_global_id("User", self.assignee_pk)

    @strawberry.field(description="The interaction logged when it was done.")
    async def interaction(self, info: Info) -> InteractionRef | None:
        from schema.interactions import Interaction

        return None if self.interaction_pk is None else await Interaction.load(info, self.interaction_pk)


@strawberry.type(description="A customer whose birthday is coming.")
class UpcomingBirthday:
    days_until: int = strawberry.field(description="0 today, 1 tomorrow, …")
    customer_pk: strawberry.Private[int]

    @strawberry.field(description="The customer.")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await customer_types.load_customer(info, self.customer_pk)


def _arg(name: str) -> Any:
    return strawberry.argument(description=PAGE_ARGS_DOC[name])


@strawberry.type
class FollowUpQueries:
    @strawberry.field(description="Your open follow-ups of customers you see, overdue ones first.")
    async def my_follow_ups(
        self,
        info: Info,
        due_before: Annotated[date | None, strawberry.argument(description="Only those due before this day.")] = None,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
    ) -> Connection[FollowUp]:
        scope = info.context.scope
        page = await or_bad_input(follow_ups.my_follow_ups(scope, page_args(first, after, None, None), due_before))
        return connection(page, FollowUp.from_row, lambda: follow_ups.count_my_follow_ups(scope, due_before))

    @strawberry.field(
        description=(
            f"Customers you see with a birthday from today to `days` ahead (at most {birthdays.MAX_DAYS}), soonest "
            "first; 29 February is celebrated on the 28th in other years. Needs customer.pii (birthdays are personal)."
        )
    )
    async def upcoming_birthdays(
        self,
        info: Info,
        days: Annotated[int, strawberry.argument(description=f"How many days ahead, 0 to {birthdays.MAX_DAYS}.")] = 7,
        first: Annotated[int, strawberry.argument(description=f"At most this many, 0 to {birthdays.MAX_FIRST}.")] = 20,
    ) -> list[UpcomingBirthday]:
        rows = await or_bad_input(birthdays.upcoming_birthdays(info.context.scope, days, first))
        return [UpcomingBirthday(days_until=row["days_until"], customer_pk=row["id"]) for row in rows]


@strawberry.input(description="A follow-up to schedule.")
class ScheduleFollowUpInput(Idempotent):
    customer_id: strawberry.ID = strawberry.field(description="The customer to follow up.")
    due_on: date = strawberry.field(description="The day it is due.")
    purpose: str = strawberry.field(description="What it is for, at most 500 characters.")
    assignee_id: strawberry.ID | None = strawberry.field(default=None, description="Who does it (within your reach); you by default.")


@strawberry.input(description="A follow-up done.")
class CompleteFollowUpInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The follow-up.")
    outcome: str = strawberry.field(description="What came of it, at most 500 characters; logged as the interaction's outcome.")
    kind: InteractionKind | None = strawberry.field(default=None, description="How it was done; CALL by default.")


@strawberry.input(description="A follow-up no longer needed.")
class CancelFollowUpInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The follow-up.")


@strawberry.input(description="An open follow-up snoozed to another day, handed to someone else, or both.")
class RescheduleFollowUpInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The follow-up; it must be OPEN.")
    due_on: date | None = strawberry.field(default=None, description="The new day it is due, from today to five years ahead.")
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Who does it from now on: an active User within your reach. At least one of dueOn and assigneeId."
    )


@strawberry.type(description="The result of a change to a follow-up.")
class FollowUpPayload:
    follow_up: FollowUp | None = strawberry.field(description="The follow-up after the change; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type
class FollowUpMutations:
    @strawberry.mutation(description="Schedule a follow-up of a customer you see.")
    async def schedule_follow_up(
        self, info: Info, input: Annotated[ScheduleFollowUpInput, strawberry.argument(description="The follow-up.")]
    ) -> FollowUpPayload:
        async def run() -> dict[str, Any]:
            customer = customer_types.customer_id(input.customer_id, "customerId")
            assignee = None if input.assignee_id is None else from_global_id(input.assignee_id, "assigneeId", "User")[1]
            data = input_dict(input, exclude={"customer_id", "assignee_id"})
            return {"follow_up": await follow_ups.schedule_follow_up(info.context.scope, customer, data, assignee)}

        return await payload(FollowUpPayload, run, info, input, follow_ups.schedule_follow_up)

    @strawberry.mutation(description="Mark a follow-up done with its outcome; logs the interaction it was.")
    async def complete_follow_up(
        self, info: Info, input: Annotated[CompleteFollowUpInput, strawberry.argument(description="What came of it.")]
    ) -> FollowUpPayload:
        return await change(FollowUpPayload, info, input, follow_ups.complete_follow_up, lambda: (input.outcome, input.kind))

    @strawberry.mutation(description="Snooze an open follow-up to another day, or hand it to a colleague within your reach.")
    async def reschedule_follow_up(
        self, info: Info, input: Annotated[RescheduleFollowUpInput, strawberry.argument(description="Which, and what changes.")]
    ) -> FollowUpPayload:
        def arguments() -> tuple:
            assignee = None if input.assignee_id is None else from_global_id(input.assignee_id, "assigneeId", "User")[1]
            return input.due_on, assignee

        return await change(FollowUpPayload, info, input, follow_ups.reschedule_follow_up, arguments)

    @strawberry.mutation(description="Cancel an open follow-up.")
    async def cancel_follow_up(
        self, info: Info, input: Annotated[CancelFollowUpInput, strawberry.argument(description="Which.")]
    ) -> FollowUpPayload:
        return await change(FollowUpPayload, info, input, follow_ups.cancel_follow_up)
