"""Loyalty in GraphQL: a customer's points, ledger and membership level; redeeming and adjusting points."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from models import loyalty
from models.loyalty import EntryKind, Level
from schema import customers as customer_types
from schema.context import Info
from schema.errors import UserError
from schema.ids import to_global_id
from schema.mutations import Idempotent, payload
from schema.relay import Node
from schema.scalars import Long

if TYPE_CHECKING:
    from schema.customers import Customer
    from schema.orders import Order

__all__ = ["Loyalty", "LoyaltyMutations", "PointsEntry"]

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]
OrderRef = Annotated["Order", strawberry.lazy("schema.orders")]

strawberry.enum(
    EntryKind, name="PointsEntryKind",
    description="EARN on a paid order, REFERRAL for a referred customer's first payment, ADJUST by hand, REDEEM, EXPIRE, "
                "or REVERSAL of points a refunded order had earned.",
)
strawberry.enum(Level, name="MembershipLevel", description="By points earned in the last 12 months: MEMBER, SILVER (银卡), GOLD (金卡), PLATINUM (白金).")


@strawberry.type(description="One line of a customer's points ledger; never changed once written.")
class PointsEntry(Node):
    loader = "points_entry"
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]
    order_pk: strawberry.Private[int | None]
    referred_pk: strawberry.Private[int | None]
    lot_pk: strawberry.Private[int | None]
    kind: EntryKind = strawberry.field(description="What the entry is.")
    points: Long = strawberry.field(description="Signed: points earned are positive, points spent, expired or taken back negative.")
    at: datetime = strawberry.field(description="When the points were earned or spent; for an order's, when it was paid.")
    expires_at: datetime | None = strawberry.field(description="Points earned: when what is left of them expires; null if never.")
    referral_level: int | None = strawberry.field(description="REFERRAL: 1 for the referrer, 2 for the referrer's referrer.")
    reason: str | None = strawberry.field(description="ADJUST and REDEEM: why, as given.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PointsEntry:
        return cls(
            id=to_global_id("PointsEntry", row["id"]), pk=row["id"], customer_pk=row["customer_id"], order_pk=row["order_id"],
            referred_pk=row["referred_id"], lot_pk=row["lot_id"], kind=EntryKind(row["kind"]), points=row["points"],
            at=row["at"], expires_at=row["expires_at"], referral_level=row["level"], reason=row["reason"],
        )

    @strawberry.field(description="Whose points they are.")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await customer_types.load_customer(info, self.customer_pk)

    @strawberry.field(description="The order that earned it, or whose payment or refund caused it; null if none or not visible.")
    async def order(self, info: Info) -> OrderRef | None:
        from schema.orders import Order

        return None if self.order_pk is None else await Order.load(info, self.order_pk)

    @strawberry.field(description="REFERRAL: the referred customer whose first payment it rewards; null if not visible to you.")
    async def referred_customer(self, info: Info) -> CustomerRef | None:
        return None if self.referred_pk is None else await customer_types.load_customer(info, self.referred_pk)

    @strawberry.field(description="REVERSAL and EXPIRE: the points earned (an entry) that it takes from.")
    async def lot(self, info: Info) -> PointsEntry | None:
        return None if self.lot_pk is None else await PointsEntry.load(info, self.lot_pk)


@strawberry.type(description="Points that expire on one day unless spent first.")
class PointsExpiry:
    points: Long = strawberry.field(description="How many.")
    on: date = strawberry.field(description="The day (UTC) they expire.")


@strawberry.type(description="A promotion or demotion of a customer's membership level, drawn by the sweep.")
class LevelChange:
    at: datetime = strawberry.field(description="When.")
    from_level: Level = strawberry.field(description="The level before.")
    to_level: Level = strawberry.field(description="The level after.")
    points: Long = strawberry.field(description="The points earned in the 12 months before, which decided it.")


@strawberry.type(description="A customer's loyalty points and membership level (会员与积分).")
class Loyalty:
    customer_pk: strawberry.Private[int]
    balance: Long = strawberry.field(description="Points to spend: the sum of the ledger. Negative when a refund took back points already spent; then nothing can be redeemed.")
    level: Level = strawberry.field(description="The membership level, as the sweep last drew it.")
    points_earned_12m: Long = strawberry.field(description="Points earned in the last 12 months (orders, referrals, adjustments, less reversals): what the level is drawn by.")
    expiring_soon: list[PointsExpiry] = strawberry.field(description="Points that expire within the notice period of the loyalty rules unless spent first, by day.")

    @classmethod
    def of(cls, customer_pk: int, found: loyalty.Loyalty | None) -> Loyalty:
        """A visible customer's loyalty (``found`` None: nothing in the ledger yet)."""
        found = found or loyalty.Loyalty()
        return cls(
            customer_pk=customer_pk, balance=found.balance, level=found.level, points_earned_12m=found.earned_12m,
            expiring_soon=[PointsExpiry(points=points, on=day) for day, points in found.expiring_soon],
        )

    @strawberry.field(description="Promotions and demotions, newest first (the last 50).")
    async def level_changes(self, info: Info) -> list[LevelChange]:
        rows = await info.context.loaders.level_changes.load(self.customer_pk) or []
        return [
            LevelChange(at=row["at"], from_level=Level(row["from_level"]), to_level=Level(row["to_level"]), points=row["points"])
            for row in rows
        ]


@strawberry.input(description="Points to spend from a customer's balance, oldest first.")
class RedeemPointsInput(Idempotent):
    customer_id: strawberry.ID = strawberry.field(description="The customer.")
    points: int = strawberry.field(description=f"How many, 1 to {loyalty.MAX_POINTS:,}; INSUFFICIENT_POINTS beyond the balance.")
    reason: str = strawberry.field(description="What they are redeemed for, at most 200 characters.")


@strawberry.input(description="Points added to a customer's balance by hand, or deducted (negative), with the reason.")
class AdjustPointsInput(Idempotent):
    customer_id: strawberry.ID = strawberry.field(description="The customer.")
    points: int = strawberry.field(description=f"How many, not 0, at most {loyalty.MAX_POINTS:,} either way; a deduction beyond the balance is INSUFFICIENT_POINTS.")
    reason: str = strawberry.field(description="Why, at most 200 characters.")


@strawberry.type(description="The result of a change to a customer's points.")
class PointsPayload:
    entry: PointsEntry | None = strawberry.field(description="The ledger entry written; null when refused. Its customer's loyalty is the balance after it.")
    errors: list[UserError] = strawberry.field(description="Why it was refused (nothing was written); empty on success.")


async def _write(info: Info, input: RedeemPointsInput | AdjustPointsInput, operation: Any) -> PointsPayload:
    async def run() -> dict[str, Any]:
        customer = customer_types.customer_id(input.customer_id, "customerId")
        return {"entry": await operation(info.context.scope, customer, input.points, input.reason)}

    return await payload(PointsPayload, run, info, input, operation)


@strawberry.type
class LoyaltyMutations:
    @strawberry.mutation(description="Redeem points of a customer you see (loyalty.redeem): refused whole when the balance does not cover them.")
    async def redeem_points(
        self, info: Info, input: Annotated[RedeemPointsInput, strawberry.argument(description="Whose points, how many, for what.")]
    ) -> PointsPayload:
        return await _write(info, input, loyalty.redeem_points)

    @strawberry.mutation(description="Add or deduct points of a customer you see by hand (loyalty.adjust), with the reason.")
    async def adjust_points(
        self, info: Info, input: Annotated[AdjustPointsInput, strawberry.argument(description="Whose points, how many, why.")]
    ) -> PointsPayload:
        return await _write(info, input, loyalty.adjust_points)
