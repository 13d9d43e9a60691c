"""Orders: what a customer bought (optionally line by line), what it was worth, and what is still owed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import loyalty
from models.audit import record
from models.customers import customers_by_ids
from models.errors import DomainError, ErrorCode, FieldError
from models.pagination import Page, PageArgs, SortKey, fetch_pages
from models.scope import Scope, requires
from models.sql import Query, fetch, money, money_sum
from models.validation import (
    clean_all,
    clean_choice,
    clean_currency,
    clean_positive_amount,
    clean_text,
    clean_utc,
)

__all__ = [
    "MAX_LINES",
    "Order",
    "OrderLine",
    "OrderStatus",
    "OrderSummary",
    "order_counts",
    "order_summaries",
    "order_lines",
    "orders_by_ids",
    "paid",
    "orders_pages",
    "record_order",
    "change_order_status",
]


class OrderStatus(str, Enum):
    PENDING = "pending"
    PAID = "paid"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


def paid(alias: str) -> str:
    """The condition "``alias`` is a paid order", as the partial index ``orders_paid`` (migration
    0011) states it: a literal, not a parameter, so that every plan may use the index."""
    return f"{alias}.status = '{OrderStatus.PAID.value}'"


class Order(Model):
    id = fields.BigIntField(primary_key=True)
    customer = fields.ForeignKeyField("models.Customer", related_name="orders", on_delete=fields.CASCADE)
    amount = fields.DecimalField(max_digits=18, decimal_places=4)
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(OrderStatus, max_length=16)
    placed_at = fields.DatetimeField()
    payment_due_at = fields.DatetimeField(null=True)
    paid_at = fields.DatetimeField(null=True)
    channel = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "orders"
        indexes = (("customer_id", "placed_at", "id"), ("created_at",))
        # Paid orders by customer: a partial index written in migration 0011 (RunPython).


class OrderLine(Model):
    """One product of an order: what, how many, at what price each."""

    id = fields.BigIntField(primary_key=True)
    order = fields.ForeignKeyField("models.Order", related_name="lines", on_delete=fields.CASCADE)
    sku = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    quantity = fields.IntField()
    unit_price = fields.DecimalField(max_digits=18, decimal_places=4)

    class Meta:
        table = "order_line"
        indexes = (("order_id", "id"), ("sku", "order_id"))


MAX_LINES = 100
MAX_QUANTITY = 1_000_000
LINE_COLUMNS = ("id", "order_id", "sku", "name", "quantity", "unit_price")

COLUMNS = (
    "id", "customer_id", "amount", "currency", "status", "placed_at", "payment_due_at", "paid_at",
    "channel", "created_at",
)
_SELECT = ", ".join(f"o.{column}" for column in COLUMNS)
KEY = SortKey("o.placed_at", "datetime", descending=True)


def _paid_at_problems(paid_at: datetime | None, placed_at: datetime, now: datetime) -> list[FieldError]:
    """What is wrong with a payment time: in the future, or before the order."""
    if paid_at is not None and paid_at > now + timedelta(minutes=5):
        return [FieldError("paidAt", "an order cannot be paid in the future.", ErrorCode.INVALID)]
    if paid_at is not None and paid_at < placed_at:
        return [FieldError("paidAt", "an order cannot be paid before it is placed.", ErrorCode.INVALID)]
    return []


def _clean_times(data: dict[str, Any], status: OrderStatus) -> dict[str, datetime | None]:
    now = datetime.now(UTC)
    placed_at = clean_utc(data.get("placed_at"), "placedAt") or now
    due = clean_utc(data.get("payment_due_at"), "paymentDueAt")
    paid_at = clean_utc(data.get("paid_at"), "paidAt")
    errors: list[FieldError] = []
    if placed_at > now + timedelta(minutes=5):
        errors.append(FieldError("placedAt", "an order cannot be placed in the future.", ErrorCode.INVALID))
    if due is not None and due < placed_at:
        errors.append(FieldError("paymentDueAt", "payment cannot fall due before the order.", ErrorCode.INVALID))
    errors.extend(_paid_at_problems(paid_at, placed_at, now))
    if paid_at is not None and status in (OrderStatus.PENDING, OrderStatus.CANCELLED):
        errors.append(FieldError("paidAt", f"a {status.value} order has no payment time.", ErrorCode.INVALID))
    if errors:
        raise DomainError(errors)
    if paid_at is None and status in (OrderStatus.PAID, OrderStatus.REFUNDED):
        paid_at = placed_at
    return {"placed_at": placed_at, "payment_due_at": due, "paid_at": paid_at}


def _clean_line(line: dict[str, Any], currency: str, n: int) -> dict[str, Any]:
    field = f"lines[{n}]"
    quantity = line.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= MAX_QUANTITY:
        raise DomainError.single(f"{field}.quantity", f"quantity must be a whole number from 1 to {MAX_QUANTITY:,}.", ErrorCode.INVALID)
    return {
        "sku": clean_text(line.get("sku"), f"{field}.sku", max_length=64, required=True),
        "name": clean_text(line.get("name"), f"{field}.name", max_length=200, required=True),
        "quantity": quantity,
        "unit_price": clean_positive_amount(line.get("unit_price"), currency, f"{field}.unitPrice"),
    }


def _clean_lines(lines: list[dict[str, Any]] | None, currency: str, amount: Decimal) -> list[dict[str, Any]]:
    """The order's lines, which add up to its amount exactly."""
    if not lines:
        return []
    if len(lines) > MAX_LINES:
        raise DomainError.single("lines", f"an order has at most {MAX_LINES} lines.", ErrorCode.INVALID)
    errors: list[FieldError] = []
    cleaned = []
    for n, line in enumerate(lines):
        try:
            cleaned.append(_clean_line(line, currency, n))
        except DomainError as error:
            errors.extend(error.errors)
    if errors:
        raise DomainError(errors)
    total = sum((line["unit_price"] * line["quantity"] for line in cleaned), Decimal(0))
    if total != amount:
        raise DomainError.single("lines", f"the lines add up to {total} {currency}, the amount is {amount}.", ErrorCode.INVALID)
    return cleaned


@requires("order.create", "customer.read")
async def record_order(scope: Scope, customer_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """An order of a visible customer, with its lines if given (they add up to the amount); a paid one earns points."""
    values = clean_all(
        {
            "currency": lambda _: clean_currency(data.get("currency") or ""),
            "status": lambda _: clean_choice(data.get("status"), OrderStatus, "status") or OrderStatus.PENDING,
            "channel": lambda _: clean_text(data.get("channel"), "channel", max_length=64),
            "amount": lambda done: clean_positive_amount(data.get("amount"), done["currency"]),
            "times": lambda done: _clean_times(data, done["status"]),
            "lines": lambda done: _clean_lines(data.get("lines"), done["currency"], done["amount"]),
        }
    )
    async with in_transaction() as connection:
        if customer_id not in await customers_by_ids(scope, [customer_id]):
            raise DomainError.single("customerId", "no such customer.", ErrorCode.NOT_FOUND)
        times, lines = values.pop("times"), values.pop("lines")
        order = await Order.create(customer_id=customer_id, using_db=connection, **times, **values)
        if lines:
            await OrderLine.bulk_create([OrderLine(order_id=order.id, **line) for line in lines], using_db=connection)
        await record(scope, "order.create", "order", order.id,
                     after={"customer_id": customer_id, **times, **values, "lines": len(lines)}, connection=connection,
                     customer_id=customer_id)
        row = {column: getattr(order, column) for column in COLUMNS}
        if order.status is OrderStatus.PAID:
            await loyalty.on_paid(scope, connection, row)
    return row


_TRANSITIONS = {
    OrderStatus.PENDING: (OrderStatus.PAID, OrderStatus.CANCELLED),
    OrderStatus.PAID: (OrderStatus.REFUNDED,),
}
"""Where an order may go from where it stands: a payment, a cancellation, a refund."""


@requires("order.update", "customer.read")
async def change_order_status(scope: Scope, order_id: int, status: Any, paid_at: Any = None) -> dict[str, Any]:
    """A visible customer's order paid (earning its points and, on a first payment, the referral
    rewards), cancelled, or refunded (taking them back). One change wins when two race."""
    status = clean_choice(status, OrderStatus, "status", required=True)
    now = datetime.now(UTC)
    paid_at = clean_utc(paid_at, "paidAt")
    if paid_at is not None and status is not OrderStatus.PAID:
        raise DomainError.single("paidAt", "only a payment has a payment time.", ErrorCode.INVALID)
    async with in_transaction() as connection:
        found = await orders_by_ids(scope, [order_id])
        if order_id not in found:
            raise DomainError.single("id", "no such order.", ErrorCode.NOT_FOUND)
        before = found[order_id]
        was = OrderStatus(before["status"])
        if status not in _TRANSITIONS.get(was, ()):
            raise DomainError.single(
                "status", f"a {was.value} order cannot become {status.value}.", ErrorCode.INVALID_TRANSITION,
            )
        changes: dict[str, Any] = {"status": status.value}
        if status is OrderStatus.PAID:
            changes["paid_at"] = paid_at or now
            if problems := _paid_at_problems(changes["paid_at"], before["placed_at"], now):
                raise DomainError(problems)
        q = Query()
        sets = ", ".join(f"{column} = {q.param(value)}" for column, value in changes.items())
        won = await connection.execute_query_dict(
            f"UPDATE orders SET {sets} WHERE id = {q.param(order_id)} AND status = {q.param(was.value)} RETURNING id", q.params,
        )
        if not won:
            raise DomainError.single("status", "the order was changed at the same time; read it again.", ErrorCode.INVALID_TRANSITION)
        after = before | changes
        await record(scope, f"order.{status.value}", "order", order_id, before=_audited(before), after=_audited(after),
                     connection=connection, customer_id=before["customer_id"])
        if status is OrderStatus.PAID:
            await loyalty.on_paid(scope, connection, after)
        elif status is OrderStatus.REFUNDED:
            await loyalty.on_refunded(scope, connection, after)
    return after


def _audited(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in ("customer_id", "status", "paid_at")}


def _source(scope: Scope, q: Query, customer_ids: list[int]) -> str:
    """The orders of those of ``customer_ids`` the caller sees."""
    return (
        f"orders o JOIN customer c ON c.id = o.customer_id WHERE o.customer_id IN {q.in_list(customer_ids)}"
        f" AND {scope.customers(q, 'c')}"
    )


async def orders_pages(scope: Scope, customer_ids: list[int], args: PageArgs) -> dict[int, Page]:
    """Each visible customer's orders, newest first."""
    q = Query()
    return await fetch_pages(
        q,
        customer_ids,
        select=_SELECT,
        source=_source(scope, q, customer_ids),
        parent="o.customer_id",
        key=KEY,
        args=args,
        model=Order,
    )


async def order_counts(scope: Scope, customer_ids: list[int]) -> dict[int, int]:
    q = Query()
    sql = f"SELECT o.customer_id AS parent, COUNT(*) AS n FROM {_source(scope, q, customer_ids)} GROUP BY o.customer_id"
    return {row["parent"]: row["n"] for row in await fetch(sql, q)}


@dataclass
class OrderSummary:
    """A customer's paid orders: how many, their value per currency, the latest one."""

    paid_count: int = 0
    lifetime_value: list[tuple[Decimal, str]] = field(default_factory=list)
    last_order_at: datetime | None = None


async def order_summaries(scope: Scope, customer_ids: list[int]) -> dict[int, OrderSummary]:
    q = Query()
    sql = (
        f"SELECT o.customer_id, o.currency, COUNT(*) AS n, {money_sum('o.amount')} AS total, MAX(o.placed_at) AS last_at"
        f" FROM {_source(scope, q, customer_ids)} AND {paid('o')} GROUP BY o.customer_id, o.currency"
    )
    summaries = {customer_id: OrderSummary() for customer_id in customer_ids}
    last_at = Order._meta.fields_map["placed_at"]
    for row in await fetch(sql, q):
        summary = summaries[row["customer_id"]]
        summary.paid_count += row["n"]
        summary.lifetime_value.append((money(row["total"]), row["currency"]))
        at = last_at.to_python_value(row["last_at"])
        if summary.last_order_at is None or at > summary.last_order_at:
            summary.last_order_at = at
    for summary in summaries.values():
        summary.lifetime_value.sort(reverse=True)
    return summaries


async def orders_by_ids(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Orders by id, those of customers the scope hides left out."""
    q = Query()
    sql = (
        f"SELECT {_SELECT} FROM orders o JOIN customer c ON c.id = o.customer_id"
        f" WHERE o.id IN {q.in_list(ids)} AND {scope.customers(q, 'c')}"
    )
    return {row["id"]: row for row in await fetch(sql, q, Order)}


async def order_lines(scope: Scope, order_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each order's lines, in the order they were given; those of customers the scope hides left out."""
    q = Query()
    rows = await fetch(
        f"SELECT {', '.join(f'l.{c}' for c in LINE_COLUMNS)} FROM order_line l JOIN orders o ON o.id = l.order_id"
        f" JOIN customer c ON c.id = o.customer_id WHERE l.order_id IN {q.in_list(order_ids)} AND {scope.customers(q, 'c')}"
        " ORDER BY l.order_id, l.id",
        q, OrderLine,
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["order_id"], []).append(row)
    return found
