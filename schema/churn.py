"""Churn alerts in GraphQL: customers whose next paid order is overdue."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from models import churn
from schema import customers as customer_types
from schema.context import Info
from schema.errors import or_bad_input
from schema.ids import to_global_id
from schema.relay import PAGE_ARGS_DOC, Connection, connection, page_args

if TYPE_CHECKING:
    from schema.customers import Customer

__all__ = ["ChurnAlert", "ChurnQueries"]

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]


@strawberry.enum(description="OPEN until the customer pays again.")
class ChurnAlertStatus(Enum):
    OPEN = "open"
    CLOSED = "closed"


@strawberry.type(description="A churn early warning: the customer's next paid order is overdue.")
class ChurnAlert:
    id: strawberry.ID = strawberry.field(description="The alert's ID.")
    status: ChurnAlertStatus = strawberry.field(description="OPEN, or CLOSED once the customer paid again.")
    last_paid_at: datetime = strawberry.field(description="The customer's last paid order when the alert opened.")
    days_since_last_paid: int = strawberry.field(description="Days from that order to the alert.")
    threshold_days: int = strawberry.field(
        description="The days after which the customer counts as at risk: 113, or twice their median gap between paid orders."
    )
    opened_at: datetime = strawberry.field(description="When the sweep opened it.")
    closed_at: datetime | None = strawberry.field(description="When the customer paid again.")
    customer_pk: strawberry.Private[int]
    assignee_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ChurnAlert:
        return cls(
            id=to_global_id("ChurnAlert", row["id"]), status=ChurnAlertStatus(row["status"]), last_paid_at=row["last_paid_at"],
            days_since_last_paid=row["days_since"], threshold_days=row["threshold_days"], opened_at=row["opened_at"],
            closed_at=row["closed_at"], customer_pk=row["customer_id"], assignee_pk=row["assignee_id"],
        )

    @strawberry.field(description="The customer at risk.")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await customer_types.load_customer(info, self.customer_pk)

    @strawberry.field(description="Who was given the follow-up: the customer's owner, by User ID.")
    def assignee_id(self) -> strawberry.ID | None:
        return None if self.assignee_pk is None else to_global_id("User", self.assignee_pk)


@strawberry.input(description="Which churn alerts to list.")
class ChurnAlertFilterInput:
    status: ChurnAlertStatus | None = strawberry.field(default=ChurnAlertStatus.OPEN, description="OPEN by default; null for all.")
    assigned_to_me: bool = strawberry.field(default=False, description="Only the alerts whose follow-up was given to you.")


@strawberry.type
class ChurnQueries:
    @strawberry.field(description="Churn alerts of customers you see, newest first.")
    async def churn_alerts(
        self,
        info: Info,
        filter: Annotated[ChurnAlertFilterInput | None, strawberry.argument(description="Open ones by default.")] = None,
        first: Annotated[int | None, strawberry.argument(description=PAGE_ARGS_DOC["first"])] = None,
        after: Annotated[str | None, strawberry.argument(description=PAGE_ARGS_DOC["after"])] = None,
    ) -> Connection[ChurnAlert]:
        scope = info.context.scope
        chosen = filter or ChurnAlertFilterInput()
        status, mine = chosen.status.value if chosen.status else None, chosen.assigned_to_me
        page = await or_bad_input(churn.churn_alerts(scope, page_args(first, after, None, None), status, mine))
        return connection(page, ChurnAlert.from_row, lambda: churn.count_churn_alerts(scope, status, mine))
