"""Segments in GraphQL: a customer's tier, lifecycle stage, RFM scores and the reasons for them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON

from models import segments
from models.segments import Stage, Tier

__all__ = ["Segment"]



@strawberry.type(description="Recency, frequency and monetary value, each scored 1–5 by quintiles over the customers who ever paid.")
class Rfm:
    recency: int | None = strawberry.field(description="5: among the fifth who paid most recently; null before a paid order.")
    frequency: int | None = strawberry.field(description="5: among the fifth with the most paid orders in the window (365 days).")
    monetary: int | None = strawberry.field(description="5: among the fifth who paid most in the window, in CNY.")
    score: str | None = strawberry.field(description="The three scores together, such as 545.")
    days_since_last_paid: int | None = strawberry.field(description="Days since the last paid order.")
    paid_orders_in_window: int = strawberry.field(description="Paid orders in the window.")
    paid_amount_in_window: Decimal = strawberry.field(description="Their amount in CNY (other currencies by the rates table).")


@strawberry.type(description="Why a customer has its tier or stage: a code, its numbers, and a sentence.")
class SegmentReason:
    code: str = strawberry.field(description="What the reason is, such as DORMANT_RECENCY.")
    values: JSON = strawberry.field(description="The numbers it is told from.")
    text: str = strawberry.field(description="The reason in Chinese, or in English by Accept-Language.")


@strawberry.type(description="A customer's segment as last computed (kehu recompute).")
class Segment:
    tier: Tier = strawberry.field(description="VIP, ACTIVE, POTENTIAL or DORMANT.")
    lifecycle_stage: Stage = strawberry.field(description="PROSPECT, NEW, ACTIVE, LOYAL, AT_RISK or CHURNED.")
    rfm: Rfm = strawberry.field(description="The RFM scores and the numbers behind them.")
    reasons: list[SegmentReason] = strawberry.field(description="Why: one reason for the tier, one for the stage.")
    computed_at: datetime = strawberry.field(description="When it was computed.")

    @classmethod
    def from_row(cls, row: dict[str, Any], language: str) -> Segment:
        scores = (row["r"], row["f"], row["m"])
        return cls(
            tier=Tier(row["tier"]),
            lifecycle_stage=Stage(row["stage"]),
            rfm=Rfm(
                recency=row["r"], frequency=row["f"], monetary=row["m"],
                score="".join(map(str, scores)) if None not in scores else None,
                days_since_last_paid=row["recency_days"], paid_orders_in_window=row["frequency"],
                paid_amount_in_window=Decimal(str(row["monetary"])),
            ),
            reasons=[SegmentReason(code=r.code, values=r.values, text=r.text) for r in segments.reasons(row, language)],
            computed_at=row["computed_at"],
        )
