"""Segments that explain themselves (客户分级): RFM scores, a tier and a lifecycle stage per customer.

``recompute`` refreshes every live customer's segment in one pass of set-based SQL: recency
(days since the last paid order), frequency (paid orders in the window) and monetary (their
amount in the base currency, other currencies converted by the rates table) are each scored
1–5 by quintiles over the customers who ever paid (``NTILE``, ties broken by id, so SQLite and
PostgreSQL agree). The tier and the stage follow from rules over those numbers and the
interactions of the last 90 days. A change of tier or stage is kept (``SegmentChange``), so a
report can say who moved from VIP to DORMANT this month. The stored numbers are what a reason
is told from (``reasons``), in Chinese or English.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, ClassVar

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.scope import Scope, requires
from models.settings import bounded, current
from models.sql import Query, fetch

__all__ = [
    "BASE_CURRENCY", "CustomerSegment", "ExchangeRate", "Reason", "SegmentChange", "Stage", "Tier", "convertible", "days_since",
    "in_base",
    "reasons", "recompute", "segment_history", "segments_by_customer",
]

BASE_CURRENCY = "CNY"


class Tier(str, Enum):
    VIP = "vip"
    ACTIVE = "active"
    POTENTIAL = "potential"
    DORMANT = "dormant"


class Stage(str, Enum):
    PROSPECT = "prospect"
    NEW = "new"
    ACTIVE = "active"
    LOYAL = "loyal"
    AT_RISK = "at_risk"
    CHURNED = "churned"


@dataclass(frozen=True)
class Rules:
    """The thresholds tiers and stages are drawn by; an admin changes them (models/rules.py)."""

    KEY: ClassVar[str] = "segments"
    window_days: int = bounded(365, 30, 3660, "Frequency and monetary count the paid orders of this many days")
    touch_days: int = bounded(90, 7, 730, "Interactions of this many days count towards ACTIVE")
    dormant_days: int = bounded(120, 14, 3660, "DORMANT after this many days without a paid order")
    vip_recency: int = bounded(4, 1, 5, "VIP needs a recency score of at least this")
    vip_monetary: int = bounded(5, 1, 5, "VIP needs a monetary score of at least this")
    active_days: int = bounded(90, 1, 3660, "ACTIVE with a paid order within this many days")
    active_touches: int = bounded(3, 1, 1000, "Or ACTIVE with at least this many interactions in the touch window")
    new_days: int = bounded(90, 1, 3660, "Stage NEW while the first paid order is at most this many days old")
    loyal_orders: int = bounded(3, 2, 1000, "Stage LOYAL from this many paid orders")
    at_risk_days: int = bounded(113, 14, 3660, "Stage AT_RISK after this many days without a paid order")
    churned_days: int = bounded(365, 15, 3660, "Stage CHURNED after this many days without a paid order")

    def problems(self) -> list[tuple[str, str]]:
        said = []
        if self.active_days >= self.dormant_days:
            said.append(("active_days", "must be fewer than the days after which a customer is dormant."))
        if self.at_risk_days >= self.churned_days:
            said.append(("at_risk_days", "must be fewer than the days after which a customer has churned."))
        return said


class ExchangeRate(Model):
    """What one unit of ``currency`` is worth in the base currency."""

    currency = fields.CharField(max_length=3, primary_key=True)
    rate = fields.DecimalField(max_digits=18, decimal_places=8)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "exchange_rate"


class CustomerSegment(Model):
    id = fields.BigIntField(primary_key=True)
    customer = fields.OneToOneField("models.Customer", related_name="segment", on_delete=fields.CASCADE)
    recency_days = fields.IntField(null=True)
    frequency = fields.IntField()
    monetary = fields.DecimalField(max_digits=18, decimal_places=2)
    paid_orders = fields.IntField()
    touches = fields.IntField()
    first_paid_at = fields.DatetimeField(null=True)
    r = fields.SmallIntField(null=True)
    f = fields.SmallIntField(null=True)
    m = fields.SmallIntField(null=True)
    tier = fields.CharEnumField(Tier, max_length=10)
    stage = fields.CharEnumField(Stage, max_length=10)
    computed_at = fields.DatetimeField()

    class Meta:
        table = "customer_segment"
        indexes = (("tier", "customer_id"), ("stage", "customer_id"))


class SegmentChange(Model):
    id = fields.BigIntField(primary_key=True)
    customer = fields.ForeignKeyField("models.Customer", related_name="segment_changes", on_delete=fields.CASCADE)
    at = fields.DatetimeField()
    from_tier = fields.CharField(max_length=10, null=True)
    to_tier = fields.CharField(max_length=10)
    from_stage = fields.CharField(max_length=10, null=True)
    to_stage = fields.CharField(max_length=10)

    class Meta:
        table = "segment_change"
        indexes = (("customer_id", "at"), ("at",))


def days_since(q: Query, column: str, at: str) -> str:
    """Whole days from the time ``column`` to the time ``at`` (SQL expressions)."""
    if q.dialect == "sqlite":
        return f"CAST(julianday({at}) - julianday({column}) AS INTEGER)"
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM ({at}::timestamptz - {column})) / 86400) AS INTEGER)"


def _number(q: Query, column: str) -> str:
    """A decimal column as a number SQL can multiply (SQLite keeps decimals as text)."""
    return f"CAST({column} AS REAL)" if q.dialect == "sqlite" else column


def in_base(q: Query, order: str = "o", rate: str = "x") -> str:
    """SQL: the amount of order ``order`` in the base currency, by its ``exchange_rate`` row ``rate``
    (joined on the currency; none for the base currency itself)."""
    return f"{_number(q, f'{order}.amount')} * COALESCE({_number(q, f'{rate}.rate')}, 1)"


def convertible(q: Query, order: str = "o", rate: str = "x") -> str:
    """SQL: the order is in the base currency, or in one a rate says the worth of (others count for nothing)."""
    return f"({order}.currency = {q.param(BASE_CURRENCY)} OR {rate}.currency IS NOT NULL)"


def _cuts(q: Query, column: str, score: str, *, up: bool) -> str:
    """The quintile of a customer scored against the stored ones (``refresh``): one plus the
    quintiles from 2 to 5 whose edge the customer's ``column`` reaches."""
    edge, compare = ("MIN", ">=") if up else ("MAX", "<=")
    return "1 + " + " + ".join(
        f"CASE WHEN {_number(q, column)} {compare} (SELECT {edge}({_number(q, column)}) FROM customer_segment"
        f" WHERE {score} = {s}) THEN 1 ELSE 0 END"
        for s in range(2, 6)
    )


def _next(q: Query, at: datetime, rules: Rules, customer_ids: list[int] | None = None) -> str:
    """The statement that computes the segments at ``at``: of every live customer, scored by
    quintiles among them; or of ``customer_ids``, scored against the quintiles stored."""
    now = q.param(at)
    since = q.param(at - timedelta(days=rules.window_days))
    touched = q.param(at - timedelta(days=rules.touch_days))
    amount = in_base(q)
    only = (lambda column: f" AND {column} IN {q.id_set(customer_ids)}") if customer_ids is not None else (lambda _: "")
    if customer_ids is None:
        # Quintiles among those who ever paid: the rest stand in a partition of their own, unscored.
        scores = (
            "NTILE(5) OVER (PARTITION BY last_paid_at IS NULL ORDER BY last_paid_at, customer_id) AS r,"
            " NTILE(5) OVER (PARTITION BY last_paid_at IS NULL ORDER BY frequency, customer_id) AS f,"
            " NTILE(5) OVER (PARTITION BY last_paid_at IS NULL ORDER BY monetary, customer_id) AS m"
        )
    else:
        scores = (
            f"{_cuts(q, 'recency_days', 'r', up=False)} AS r, {_cuts(q, 'frequency', 'f', up=True)} AS f,"
            f" {_cuts(q, 'monetary', 'm', up=True)} AS m"
        )
    r = rules
    return (
        "WITH paid AS (SELECT o.customer_id, MIN(o.placed_at) AS first_paid_at, MAX(o.placed_at) AS last_paid_at,"
        f" SUM(CASE WHEN o.placed_at >= {since} THEN 1 ELSE 0 END) AS frequency,"
        f" SUM(CASE WHEN o.placed_at >= {since} THEN {amount} ELSE 0 END) AS monetary, COUNT(*) AS paid_orders"
        " FROM orders o LEFT JOIN exchange_rate x ON x.currency = o.currency"
        f" WHERE o.status = 'paid' AND {convertible(q)}{only('o.customer_id')}"
        " GROUP BY o.customer_id),"
        f" touches AS (SELECT customer_id, COUNT(*) AS n FROM interaction WHERE occurred_at >= {touched}{only('customer_id')}"
        " GROUP BY customer_id),"
        " base AS (SELECT c.id AS customer_id, p.first_paid_at, p.last_paid_at, COALESCE(p.frequency, 0) AS frequency,"
        " ROUND(COALESCE(p.monetary, 0), 2) AS monetary, COALESCE(p.paid_orders, 0) AS paid_orders,"
        f" {days_since(q, 'p.last_paid_at', now)} AS recency_days, COALESCE(t.n, 0) AS touches"
        " FROM customer c LEFT JOIN paid p ON p.customer_id = c.id LEFT JOIN touches t ON t.customer_id = c.id"
        f" WHERE c.deleted_at IS NULL{only('c.id')}),"
        f" scored AS (SELECT base.*, {scores} FROM base)"
        " SELECT customer_id, recency_days, frequency, monetary, paid_orders, touches, first_paid_at,"
        " CASE WHEN last_paid_at IS NULL THEN NULL ELSE r END AS r,"
        " CASE WHEN last_paid_at IS NULL THEN NULL ELSE f END AS f,"
        " CASE WHEN last_paid_at IS NULL THEN NULL ELSE m END AS m,"
        f" CASE WHEN recency_days > {r.dormant_days} THEN 'dormant'"
        f" WHEN last_paid_at IS NOT NULL AND r >= {r.vip_recency} AND m >= {r.vip_monetary} THEN 'vip'"
        f" WHEN (last_paid_at IS NOT NULL AND recency_days <= {r.active_days}) OR touches >= {r.active_touches} THEN 'active'"
        " ELSE 'potential' END AS tier,"
        " CASE WHEN last_paid_at IS NULL THEN 'prospect'"
        f" WHEN recency_days > {r.churned_days} THEN 'churned' WHEN recency_days > {r.at_risk_days} THEN 'at_risk'"
        f" WHEN {days_since(q, 'first_paid_at', now)} <= {r.new_days} THEN 'new'"
        f" WHEN paid_orders >= {r.loyal_orders} THEN 'loyal' ELSE 'active' END AS stage"
        " FROM scored"
    )


_COLUMNS = "customer_id, recency_days, frequency, monetary, paid_orders, touches, first_paid_at, r, f, m, tier, stage"


async def _store(at: datetime, rules: Rules, customer_ids: list[int] | None) -> int:
    async with in_transaction() as connection:
        q = Query()
        if q.dialect != "sqlite":  # one at a time: a second one compares with the first's result
            await connection.execute_query("SELECT pg_advisory_xact_lock(4832013)")
        # Dropped at the end, not on commit: a refresh may run inside a caller's transaction.
        await connection.execute_query("CREATE TEMP TABLE segment_next AS " + _next(q, at, rules, customer_ids), q.params)
        q = Query()
        await connection.execute_query(
            "INSERT INTO segment_change (customer_id, at, from_tier, to_tier, from_stage, to_stage)"
            f" SELECT n.customer_id, {q.param(at)}, s.tier, n.tier, s.stage, n.stage FROM segment_next n"
            " LEFT JOIN customer_segment s ON s.customer_id = n.customer_id"
            " WHERE s.customer_id IS NULL OR s.tier <> n.tier OR s.stage <> n.stage", q.params,
        )
        if customer_ids is None:
            await connection.execute_query("DELETE FROM customer_segment")
        else:
            await connection.execute_query(
                "DELETE FROM customer_segment WHERE customer_id IN (SELECT customer_id FROM segment_next)"
            )
        q = Query()
        await connection.execute_query(
            f"INSERT INTO customer_segment ({_COLUMNS}, computed_at) SELECT {_COLUMNS}, {q.param(at)} FROM segment_next", q.params,
        )
        counted = await connection.execute_query_dict("SELECT COUNT(*) AS n FROM segment_next")
        await connection.execute_query("DROP TABLE segment_next")
    return counted[0]["n"]


async def recompute(at: datetime | None = None, rules: Rules | None = None) -> int:
    """Refresh every live customer's segment; record each change of tier or stage. How many customers."""
    return await _store(at or datetime.now(UTC), rules or await current(Rules), None)


STALE_MARGIN = timedelta(minutes=1)
"""An order committed a little after its ``created_at`` is still seen by the next refresh."""


async def refresh(at: datetime | None = None) -> int:
    """Refresh the segments of the customers whose orders changed since theirs was computed, and of
    new customers, scored against the stored quintiles (the nightly ``recompute`` redraws them)."""
    at = at or datetime.now(UTC)
    q = Query()
    since = q.param(at - timedelta(days=2))
    stale = await fetch(
        "SELECT DISTINCT o.customer_id FROM orders o LEFT JOIN customer_segment s ON s.customer_id = o.customer_id"
        f" WHERE o.created_at > {since} AND (s.computed_at IS NULL OR o.created_at > s.computed_at"
        f" OR o.created_at > {q.param(at - STALE_MARGIN)})"
        " UNION SELECT c.id FROM customer c LEFT JOIN customer_segment s ON s.customer_id = c.id"
        f" WHERE c.created_at > {since} AND c.deleted_at IS NULL AND s.customer_id IS NULL", q,
    )
    if not stale:
        return 0
    return await _store(at, await current(Rules), [row["customer_id"] for row in stale])


async def segments_by_customer(scope: Scope, customer_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The stored segments of the visible customers among ``customer_ids``, each with the ``rules``
    its reasons are told by."""
    if not customer_ids:
        return {}
    q = Query()
    sql = (
        f"SELECT s.{_COLUMNS.replace(', ', ', s.')}, s.computed_at FROM customer_segment s JOIN customer c ON c.id = s.customer_id"
        f" WHERE s.customer_id IN {q.in_list(customer_ids)} AND {scope.customers(q, 'c')}"
    )
    rows = await fetch(sql, q, CustomerSegment)
    rules = await current(Rules) if rows else None
    return {row["customer_id"]: {**row, "rules": rules} for row in rows}


@dataclass(frozen=True)
class Reason:
    code: str
    values: dict[str, Any]
    text: str


_TEXTS = {
    "DORMANT_RECENCY": ("最近一次付款订单在 {days} 天前（超过 {threshold} 天视为沉睡）",
                        "last paid order {days} days ago (dormant after {threshold})"),
    "VIP_SCORES": ("最近购买得分 {r}，消费金额得分 {m}（VIP 需要最近购买 ≥ {min_r} 且金额 = {min_m}）",
                   "recency score {r} and monetary score {m} (VIP needs recency ≥ {min_r} and monetary {min_m})"),
    "ACTIVE_RECENCY": ("最近一次付款订单在 {days} 天前（{threshold} 天内视为活跃）",
                       "last paid order {days} days ago (active within {threshold})"),
    "ACTIVE_TOUCHES": ("近 {window} 天有 {touches} 次互动（{threshold} 次起视为活跃）",
                       "{touches} interactions in {window} days (active from {threshold})"),
    "POTENTIAL": ("尚未形成活跃购买：近 {window} 天 {touches} 次互动", "not buying actively yet: {touches} interactions in {window} days"),
    "STAGE_PROSPECT": ("还没有付款订单", "no paid order yet"),
    "STAGE_CHURNED": ("最近一次付款订单在 {days} 天前（超过 {threshold} 天视为流失）",
                      "last paid order {days} days ago (churned after {threshold})"),
    "STAGE_AT_RISK": ("最近一次付款订单在 {days} 天前（超过 {threshold} 天有流失风险）",
                      "last paid order {days} days ago (at risk after {threshold})"),
    "STAGE_NEW": ("首次付款在 {days} 天前（{threshold} 天内为新客户）", "first paid order {days} days ago (new within {threshold})"),
    "STAGE_LOYAL": ("共有 {orders} 个付款订单（{threshold} 个起为忠诚客户）", "{orders} paid orders (loyal from {threshold})"),
    "STAGE_ACTIVE": ("{orders} 个付款订单，最近一次在 {days} 天前", "{orders} paid orders, the last {days} days ago"),
}


def _reason(code: str, language: str, **values: Any) -> Reason:
    chinese, english = _TEXTS[code]
    return Reason(code, values, (english if language == "en" else chinese).format(**values))


def reasons(row: dict[str, Any], language: str = "zh_CN", at: datetime | None = None) -> list[Reason]:
    """Why the customer has its tier and its stage, told from the stored numbers and the rules
    (a row of ``segments_by_customer``)."""
    rules = row["rules"]
    days, touches, orders = row["recency_days"], row["touches"], row["paid_orders"]
    tier, stage = Tier(row["tier"]), Stage(row["stage"])
    said = []
    if tier is Tier.DORMANT:
        said.append(_reason("DORMANT_RECENCY", language, days=days, threshold=rules.dormant_days))
    elif tier is Tier.VIP:
        said.append(_reason("VIP_SCORES", language, r=row["r"], m=row["m"], min_r=rules.vip_recency, min_m=rules.vip_monetary))
    elif tier is Tier.ACTIVE and days is not None and days <= rules.active_days:
        said.append(_reason("ACTIVE_RECENCY", language, days=days, threshold=rules.active_days))
    elif tier is Tier.ACTIVE:
        said.append(_reason("ACTIVE_TOUCHES", language, touches=touches, window=rules.touch_days, threshold=rules.active_touches))
    else:
        said.append(_reason("POTENTIAL", language, touches=touches, window=rules.touch_days))
    if stage is Stage.PROSPECT:
        said.append(_reason("STAGE_PROSPECT", language))
    elif stage is Stage.CHURNED:
        said.append(_reason("STAGE_CHURNED", language, days=days, threshold=rules.churned_days))
    elif stage is Stage.AT_RISK:
        said.append(_reason("STAGE_AT_RISK", language, days=days, threshold=rules.at_risk_days))
    elif stage is Stage.NEW:
        first = (at or row["computed_at"]) - row["first_paid_at"]
        said.append(_reason("STAGE_NEW", language, days=first.days, threshold=rules.new_days))
    elif stage is Stage.LOYAL:
        said.append(_reason("STAGE_LOYAL", language, orders=orders, threshold=rules.loyal_orders))
    else:
        said.append(_reason("STAGE_ACTIVE", language, orders=orders, days=days))
    return said


@requires("customer.read")
async def segment_history(scope: Scope, customer_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """The customer's changes of tier and stage, newest first (none for a customer the caller does not see)."""
    limit = max(0, min(int(limit), 100))
    q = Query()
    sql = (
        "SELECT h.id, h.customer_id, h.at, h.from_tier, h.to_tier, h.from_stage, h.to_stage FROM segment_change h"
        f" JOIN customer c ON c.id = h.customer_id WHERE h.customer_id = {q.param(customer_id)} AND {scope.customers(q, 'c')}"
        f" ORDER BY h.at DESC, h.id DESC LIMIT {limit}"
    )
    return await fetch(sql, q, SegmentChange)
