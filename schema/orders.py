"""Orders in GraphQL: the type, its lines, money, recordOrder and changeOrderStatus."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from models import orders
from models.orders import OrderStatus
from models.validation import in_minor_units
from schema import customers as customer_types
from schema.context import Info
from schema.errors import UserError
from schema.ids import to_global_id
from schema.mutations import Idempotent, change, input_dict, payload
from schema.relay import Node

if TYPE_CHECKING:
    from schema.customers import Customer

__all__ = ["Money", "Order", "OrderMutations"]

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]

strawberry.enum(OrderStatus, name="OrderStatus", description="Where an order stands.")


@strawberry.type(description="An amount of money in one currency.")
class Money:
    amount: Decimal = strawberry.field(description="The amount, exact, to the currency's minor unit.")
    currency: str = strawberry.field(description="ISO 4217 currency code, such as CNY.")

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> Money:
        return cls(amount=in_minor_units(amount, currency), currency=currency)


@strawberry.type(description="One product of an order.")
class OrderLine:
    sku: str = strawberry.field(description="The product's stock-keeping unit.")
    name: str = strawberry.field(description="The product's name.")
    quantity: int = strawberry.field(description="How many.")
    unit_price: Decimal = strawberry.field(description="The price of one, exact, in the order's currency.")

    @classmethod
    def from_row(cls, row: dict[str, Any], currency: str) -> OrderLine:
        return cls(sku=row["sku"], name=row["name"], quantity=row["quantity"], unit_price=in_minor_units(row["unit_price"], currency))


@strawberry.type(description="A purchase by a customer.")
class Order(Node):
    loader = "order"
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]
    amount: Decimal = strawberry.field(description="The order's value, exact, in `currency`.")
    currency: str = strawberry.field(description="ISO 4217 currency code, such as CNY.")
    status: OrderStatus = strawberry.field(description="Where the order stands.")
    placed_at: datetime = strawberry.field(description="When the order was placed.")
    payment_due_at: datetime | None = strawberry.field(description="When payment falls due (receivables).")
    paid_at: datetime | None = strawberry.field(description="When it was paid.")
    channel: str | None = strawberry.field(description="Where it was placed (shop, store, app …).")
    created_at: datetime = strawberry.field(description="When it was recorded in kehu.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Order:
        return cls(
            id=to_global_id("Order", row["id"]),
            pk=row["id"],
            customer_pk=row["customer_id"],
            amount=in_minor_units(row["amount"], row["currency"]),
            currency=row["currency"],
            status=OrderStatus(row["status"]),
            placed_at=row["placed_at"],
            payment_due_at=row["payment_due_at"],
            paid_at=row["paid_at"],
            channel=row["channel"],
            created_at=row["created_at"],
        )

    @strawberry.field(description="The customer who placed it.")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await customer_types.load_customer(info, self.customer_pk)

    @strawberry.field(description="The products ordered, in the order given; empty when the order was recorded without lines.")
    async def lines(self, info: Info) -> list[OrderLine]:
        rows = await info.context.loaders.order_lines.load(self.pk) or []
        return [OrderLine.from_row(row, self.currency) for row in rows]


@strawberry.input(description="One product of an order to record.")
class OrderLineInput:
    sku: str = strawberry.field(description="The product's stock-keeping unit, at most 64 characters.")
    name: str = strawberry.field(description="The product's name, at most 200 characters.")
    quantity: int = strawberry.field(description=f"How many, 1 to {orders.MAX_QUANTITY:,}.")
    unit_price: Decimal = strawberry.field(description='The price of one, above 0, in the order\'s currency, as a string: "99.50".')


@strawberry.input(description="An order to record against a customer.")
class RecordOrderInput(Idempotent):
    customer_id: strawberry.ID = strawberry.field(description="The customer who placed it.")
    amount: Decimal = strawberry.field(description='The value, greater than zero, as a string: "199.00".')
    currency: str = strawberry.field(description="ISO 4217 currency code, such as CNY.")
    status: OrderStatus = strawberry.field(default=OrderStatus.PENDING, description="Where it stands; PENDING by default.")
    placed_at: datetime | None = strawberry.field(default=None, description="When it was placed; now by default.")
    payment_due_at: datetime | None = strawberry.field(default=None, description="When payment falls due.")
    paid_at: datetime | None = strawberry.field(
        default=None, description="When it was paid; for PAID and REFUNDED orders `placedAt` by default."
    )
    channel: str | None = strawberry.field(default=None, description="Where it was placed, at most 64 characters.")
    lines: list[OrderLineInput] | None = strawberry.field(
        default=None,
        description=f"The products ordered, at most {orders.MAX_LINES}; quantity × unit price must add up to `amount` exactly.",
    )


@strawberry.type(description="The result of recordOrder.")
class RecordOrderPayload:
    order: Order | None = strawberry.field(description="The recorded order; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.input(description="An order paid, cancelled or refunded.")
class ChangeOrderStatusInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The order.")
    status: OrderStatus = strawberry.field(
        description="PAID or CANCELLED from PENDING, REFUNDED from PAID; anything else is INVALID_TRANSITION."
    )
    paid_at: datetime | None = strawberry.field(default=None, description="PAID: when it was paid, between the order and now; now by default.")


@strawberry.type(description="The result of changeOrderStatus.")
class ChangeOrderStatusPayload:
    order: Order | None = strawberry.field(description="The order after the change; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type
class OrderMutations:
    @strawberry.mutation(description="Record an order; paid orders count towards lifetime value.")
    async def record_order(
        self, info: Info, input: Annotated[RecordOrderInput, strawberry.argument(description="The order.")]
    ) -> RecordOrderPayload:
        async def run() -> dict[str, Any]:
            pk = customer_types.customer_id(input.customer_id, "customerId")
            data = input_dict(input, exclude={"customer_id", "lines"})
            data["lines"] = [input_dict(line) for line in input.lines or ()]
            row = await orders.record_order(info.context.scope, pk, data)
            return {"order": row}

        return await payload(RecordOrderPayload, run, info, input, orders.record_order)

    @strawberry.mutation(
        description=(
            "Mark an order of a customer you see paid (earning its loyalty points and, on the customer's first payment, "
            "their referrers' rewards), cancelled, or refunded (taking those points back). Needs order.update."
        )
    )
    async def change_order_status(
        self, info: Info, input: Annotated[ChangeOrderStatusInput, strawberry.argument(description="Which order, and where it goes.")]
    ) -> ChangeOrderStatusPayload:
        return await change(ChangeOrderStatusPayload, info, input, orders.change_order_status, lambda: (input.status, input.paid_at))
