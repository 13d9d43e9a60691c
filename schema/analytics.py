"""Analytics in GraphQL: how the base is doing over a window of days, under the caller's scope."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from models import analytics
from models.errors import DomainError
from models.segments import BASE_CURRENCY, Stage, Tier
from schema import customers as customer_types
from schema.context import Info
from schema.errors import bad_input, or_bad_input
from schema.ids import from_global_id, to_global_id
from schema.orders import Money

if TYPE_CHECKING:
    from schema.customers import Customer

__all__ = ["AnalyticsQueries"]

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]


@strawberry.type(description="How many customers are in a tier.")
class TierCount:
    tier: Tier = strawberry.field(description="The tier.")
    customers: int = strawberry.field(description="How many customers.")


@strawberry.type(description="How many customers are at a lifecycle stage.")
class StageCount:
    stage: Stage = strawberry.field(description="The stage.")
    customers: int = strawberry.field(description="How many customers.")


@strawberry.type(description="A count for one month.")
class MonthlyCount:
    month: str = strawberry.field(description="The month, as 2026-05 (in the business's time zone).")
    count: int = strawberry.field(description="How many.")


@strawberry.type(description="Revenue of one month: paid orders, by when they were paid.")
class MonthlyRevenue:
    month: str = strawberry.field(description="The month, as 2026-05 (in the business's time zone).")
    amount: Money = strawberry.field(description="Their value in the base currency (CNY), other currencies by the exchange rates.")
    orders: int = strawberry.field(description="How many paid orders.")


@strawberry.type(description="Survey answers of one month.")
class MonthlySatisfaction:
    month: str = strawberry.field(description="The month, as 2026-05.")
    average_csat: float | None = strawberry.field(description="Mean CSAT, 1 to 5; null without answers.")
    nps: int | None = strawberry.field(description="Net promoter score, −100 to 100; null without NPS answers.")
    answers: int = strawberry.field(description="How many answers.")


@strawberry.type(description="Hours from filing a complaint to its resolution.")
class ResolutionHours:
    median: float | None = strawberry.field(description="The median, in hours; null when none was resolved.")
    p90: float | None = strawberry.field(description="The 90th percentile (by rank), in hours.")
    resolved: int = strawberry.field(description="How many complaints were resolved in the window.")


@strawberry.type(description="A customer whose downstream (everyone they referred, directly or not) paid the most.")
class TopReferrer:
    customer_pk: strawberry.Private[int]
    revenue: Money = strawberry.field(description="What the downstream customers you see paid in the window, in the base currency.")
    customers: int = strawberry.field(description="How many downstream customers paid in the window.")

    @strawberry.field(description="The referrer.")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await customer_types.load_customer(info, self.customer_pk)


@strawberry.type(description="How the base is doing over a window of days: every figure counts the customers you see (of the team asked).")
class Analytics:
    window: strawberry.Private[analytics.Window]
    memo: strawberry.Private[dict[str, asyncio.Task]]

    def _once(self, info: Info, name: str, read: Any) -> asyncio.Task:
        """A figure two fields share (revenue, satisfaction), read once."""
        if name not in self.memo:
            self.memo[name] = asyncio.ensure_future(or_bad_input(read(info.context.scope, self.window)))
        return self.memo[name]

    @strawberry.field(name="from", description="The window's first day.")
    def first(self) -> date:
        return self.window.first

    @strawberry.field(name="to", description="The window's last day.")
    def last(self) -> date:
        return self.window.last

    @strawberry.field(description="The team the figures are of; null for all you see.")
    def team_id(self) -> strawberry.ID | None:
        return None if self.window.team_id is None else to_global_id("Team", self.window.team_id)

    @strawberry.field(description="Customers by tier, now.")
    async def tier_distribution(self, info: Info) -> list[TierCount]:
        rows = await or_bad_input(analytics.tier_distribution(info.context.scope, self.window))
        return [TierCount(tier=tier, customers=n) for tier, n in rows]

    @strawberry.field(description="Customers by lifecycle stage, now, prospects first.")
    async def lifecycle_funnel(self, info: Info) -> list[StageCount]:
        rows = await or_bad_input(analytics.lifecycle_funnel(info.context.scope, self.window))
        return [StageCount(stage=stage, customers=n) for stage, n in rows]

    @strawberry.field(description="Customers created, by month.")
    async def new_customers(self, info: Info) -> list[MonthlyCount]:
        rows = await or_bad_input(analytics.new_customers(info.context.scope, self.window))
        return [MonthlyCount(month=month, count=n) for month, n in rows]

    @strawberry.field(description="Revenue by month.")
    async def revenue(self, info: Info) -> list[MonthlyRevenue]:
        found = await self._once(info, "revenue", analytics.revenue)
        return [MonthlyRevenue(month=m, amount=Money.of(amount, BASE_CURRENCY), orders=n) for m, amount, n in found.by_month]

    @strawberry.field(description="Paid revenue over paid orders in the window, in the base currency; null without orders.")
    async def average_order_value(self, info: Info) -> Money | None:
        value = (await self._once(info, "revenue", analytics.revenue)).average_order_value
        return None if value is None else Money.of(value, BASE_CURRENCY)

    @strawberry.field(description="Of the customers who paid in the span as long just before the window, the share (0 to 1) who paid in it too.")
    async def retention_rate(self, info: Info) -> float | None:
        return await or_bad_input(analytics.retention_rate(info.context.scope, self.window))

    @strawberry.field(description="Of the customers who paid in the window, the share (0 to 1) who paid for two orders or more.")
    async def repeat_purchase_rate(self, info: Info) -> float | None:
        return await or_bad_input(analytics.repeat_purchase_rate(info.context.scope, self.window))

    @strawberry.field(description="Mean CSAT (1 to 5) of the window's survey answers; null without complaint.read or answers.")
    async def average_csat(self, info: Info) -> float | None:
        found = await self._once(info, "satisfaction", analytics.satisfaction)
        return None if found is None else found.average_csat

    @strawberry.field(description="Net promoter score (−100 to 100) of the window's survey answers; null without complaint.read or answers.")
    async def nps(self, info: Info) -> int | None:
        found = await self._once(info, "satisfaction", analytics.satisfaction)
        return None if found is None else found.nps

    @strawberry.field(description="CSAT and NPS by month; null without complaint.read.")
    async def satisfaction(self, info: Info) -> list[MonthlySatisfaction] | None:
        found = await self._once(info, "satisfaction", analytics.satisfaction)
        return None if found is None else [
            MonthlySatisfaction(month=m, average_csat=c, nps=n, answers=a) for m, c, n, a in found.by_month
        ]

    @strawberry.field(description="Hours to resolve the complaints resolved in the window; null without complaint.read.")
    async def complaint_resolution_hours(self, info: Info) -> ResolutionHours | None:
        found = await or_bad_input(analytics.complaint_resolution_hours(info.context.scope, self.window))
        return None if found is None else ResolutionHours(median=found[0], p90=found[1], resolved=found[2])

    @strawberry.field(description="Of the complaints resolved in the window, the share (0 to 1) that met both SLA targets; null without complaint.read.")
    async def sla_compliance_rate(self, info: Info) -> float | None:
        return await or_bad_input(analytics.sla_compliance_rate(info.context.scope, self.window))

    @strawberry.field(description="The referrers whose downstream paid the most in the window.")
    async def top_referrers(
        self, info: Info,
        first: Annotated[int, strawberry.argument(description=f"How many, 1 to {analytics.MAX_REFERRERS}.")] = 10,
    ) -> list[TopReferrer]:
        rows = await or_bad_input(analytics.top_referrers(info.context.scope, self.window, first))
        return [TopReferrer(customer_pk=r.customer_id, revenue=Money.of(r.revenue, BASE_CURRENCY), customers=r.customers) for r in rows]

    @strawberry.field(description="Churn alerts opened in the window.")
    async def churn_alerts_opened(self, info: Info) -> int:
        return await or_bad_input(analytics.churn_alerts_opened(info.context.scope, self.window))


@strawberry.type
class AnalyticsQueries:
    @strawberry.field(description="How the base is doing: the dashboard's figures over a window of days, for the customers you see.")
    async def analytics(
        self,
        info: Info,
        first: Annotated[date | None, strawberry.argument(name="from", description="The first day; 12 months back by default.")] = None,
        last: Annotated[date | None, strawberry.argument(name="to", description="The last day, in the business's time zone; today by default.")] = None,
        team_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this team's customers (a team you reach).")] = None,
    ) -> Analytics:
        try:
            team = None if team_id is None else from_global_id(team_id, "teamId", "Team")[1]
        except DomainError as error:
            raise bad_input(error) from None
        window = await or_bad_input(analytics.window(info.context.scope, first, last, team))
        return Analytics(window=window, memo={})
