"""Churn early warning: a customer whose next paid order is overdue gets one alert, and a follow-up.

A customer is at risk when the days since their last paid order exceed the greater of a
global threshold (``Rules.threshold_days``, 113 by default, an admin may change it, the figure the source documents
give) and ``k`` times their own median gap between paid orders (k = 2, from 3 paid orders on).
The sweep opens one alert per customer and episode, set-based: a partial unique index on the
open alerts makes a second impossible, also with two sweeps at once. It gives the customer's
owner a follow-up, and closes the alert when the customer pays again. Alerts are read where
their customer is visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.pagination import Page, PageArgs, SortKey
from models.scope import Scope, requires
from models.segments import days_since
from models.settings import bounded, current
from models.sql import Query, fetch

__all__ = ["ChurnAlert", "Rules", "Swept", "churn_alerts", "count_churn_alerts", "sweep"]


@dataclass(frozen=True)
class Rules:
    KEY: ClassVar[str] = "churn"
    threshold_days: int = bounded(113, 7, 3660, "At risk after this many days without a paid order, at the least")
    k: float = bounded(2.0, 1.0, 20.0, "Or after k times the customer's own median gap between paid orders, when that is longer")
    min_orders: int = bounded(3, 2, 100, "The paid orders a customer needs before their own median gap counts")
    follow_up_days: int = bounded(3, 0, 90, "The owner's follow-up of an alert is due this many days after it opens")

    def problems(self) -> list[tuple[str, str]]:
        return []


class ChurnAlert(Model):
    id = fields.BigIntField(primary_key=True)
    customer = fields.ForeignKeyField("models.Customer", related_name="churn_alerts", on_delete=fields.CASCADE)
    assignee = fields.ForeignKeyField("models.User", related_name="churn_alerts", null=True, on_delete=fields.SET_NULL)
    status = fields.CharField(max_length=8, default="open")
    last_paid_at = fields.DatetimeField()
    days_since = fields.IntField()
    threshold_days = fields.IntField()
    opened_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "churn_alert"
        indexes = (("status", "opened_at", "id"),)
        # One open alert a customer: the partial unique index churn_alert_open (migration 0019).


@dataclass(frozen=True)
class Swept:
    opened: int
    closed: int


def _at_risk(q: Query, at: str, rules: Rules) -> str:
    """Customers whose days since the last paid order exceed their threshold, with the numbers."""
    gap = days_since(q, "LAG(o.placed_at) OVER (PARTITION BY o.customer_id ORDER BY o.placed_at, o.id)", "o.placed_at")
    since = days_since(q, "p.last_paid_at", at)
    personal = f"{rules.k} * m.median_gap"
    threshold = (
        f"CASE WHEN m.gaps >= {rules.min_orders - 1} AND {personal} > {rules.threshold_days}"
        f" THEN CAST({personal} AS INTEGER) ELSE {rules.threshold_days} END"
    )
    return (
        "WITH paid AS (SELECT o.customer_id, MAX(o.placed_at) AS last_paid_at FROM orders o"
        " WHERE o.status = 'paid' GROUP BY o.customer_id),"
        f" gaps AS (SELECT o.customer_id, {gap} AS gap FROM orders o WHERE o.status = 'paid'),"
        " ranked AS (SELECT customer_id, gap, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY gap) AS rn,"
        " COUNT(*) OVER (PARTITION BY customer_id) AS n FROM gaps WHERE gap IS NOT NULL),"
        " medians AS (SELECT customer_id, AVG(gap) AS median_gap, MAX(n) AS gaps FROM ranked"
        " WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY customer_id),"
        f" risk AS (SELECT c.id AS customer_id, c.owner_id, p.last_paid_at, {since} AS days_since, {threshold} AS threshold_days"
        " FROM customer c JOIN paid p ON p.customer_id = c.id LEFT JOIN medians m ON m.customer_id = c.id"
        " WHERE c.deleted_at IS NULL)"
    )


async def sweep(at: datetime | None = None, rules: Rules | None = None) -> Swept:
    """Close the alerts of customers who paid again; open one for each customer newly at risk."""
    at = at or datetime.now(UTC)
    rules = rules or await current(Rules)
    async with in_transaction() as connection:
        q = Query()
        closed = await connection.execute_query_dict(
            f"UPDATE churn_alert SET status = 'closed', closed_at = {q.param(at)} WHERE status = 'open' AND EXISTS"
            " (SELECT 1 FROM orders o WHERE o.customer_id = churn_alert.customer_id AND o.status = 'paid'"
            " AND o.placed_at > churn_alert.last_paid_at) RETURNING id, customer_id", q.params,
        )
        q = Query()
        now = q.param(at)
        opened = await connection.execute_query_dict(
            _at_risk(q, now, rules)
            + " INSERT INTO churn_alert (customer_id, assignee_id, status, last_paid_at, days_since, threshold_days, opened_at)"
            f" SELECT customer_id, owner_id, 'open', last_paid_at, days_since, threshold_days, {now} FROM risk"
            " WHERE days_since > threshold_days"
            " ON CONFLICT (customer_id) WHERE status = 'open' DO NOTHING RETURNING id, customer_id, assignee_id",
            q.params,
        )
        await _follow_ups(connection, at, [row["id"] for row in opened if row["assignee_id"] is not None], rules)
        for rows, action in ((opened, "churn_alert.open"), (closed, "churn_alert.close")):
            await _audit(connection, at, action, [row["id"] for row in rows])
    return Swept(len(opened), len(closed))


async def _follow_ups(connection, at: datetime, alert_ids: list[int], rules: Rules) -> None:
    """The owner's follow-up of each new alert, set-based."""
    if not alert_ids:
        return
    q = Query()
    due = at.date() + timedelta(days=rules.follow_up_days)
    await connection.execute_query(
        "INSERT INTO follow_up (customer_id, assignee_id, due_on, purpose, status, created_at)"
        # The purpose is data a person reads: in Chinese, the language the business works in.
        f" SELECT a.customer_id, a.assignee_id, {q.param(due)}, '流失预警：最近一次付款订单在 ' || a.days_since ||"
        f" ' 天前（超过 ' || a.threshold_days || ' 天视为有流失风险）', 'open', {q.param(at)} FROM churn_alert a"
        f" WHERE a.id IN {q.id_set(alert_ids)}",
        q.params,
    )


async def _audit(connection, at: datetime, action: str, alert_ids: list[int]) -> None:
    if not alert_ids:
        return
    q = Query()
    changes = q.json("{}")
    await connection.execute_query(
        "INSERT INTO audit_event (at, action, entity_type, entity_id, changes, customer_id)"
        f" SELECT {q.param(at)}, {q.param(action)}, 'churn_alert', a.id, {changes}, a.customer_id FROM churn_alert a"
        f" WHERE a.id IN {q.id_set(alert_ids)}", q.params,
    )


_KEY = SortKey("a.opened_at", "datetime", descending=True)
_SELECT = "a.id, a.customer_id, a.assignee_id, a.status, a.last_paid_at, a.days_since, a.threshold_days, a.opened_at, a.closed_at"


def _where(scope: Scope, q: Query, status: str | None, mine: bool) -> list[str]:
    conditions = [scope.customers(q, "c")]
    if status is not None:
        conditions.append(f"a.status = {q.param(status)}")
    if mine:
        conditions.append(f"a.assignee_id = {q.param(scope.viewer.user_id if scope.viewer else 0)}")
    return conditions


@requires("customer.read")
async def churn_alerts(scope: Scope, args: PageArgs, status: str | None = "open", mine: bool = False) -> Page:
    """Alerts of customers the caller sees, newest first (open ones by default; ``mine``: given to the caller)."""
    args = args.checked()
    q = Query()
    conditions = _where(scope, q, status, mine)
    if (keyset := args.keyset_condition(_KEY, q, "a")) is not None:
        conditions.append(keyset)
    sql = (
        f"SELECT {_SELECT} FROM churn_alert a JOIN customer c ON c.id = a.customer_id WHERE {' AND '.join(conditions)}"
        f" ORDER BY {args.order_by(_KEY, 'a')} LIMIT {args.size + 1}"
    )
    return Page.from_rows(await fetch(sql, q, ChurnAlert), args, _KEY)


@requires("customer.read")
async def count_churn_alerts(scope: Scope, status: str | None = "open", mine: bool = False) -> int:
    q = Query()
    conditions = _where(scope, q, status, mine)
    sql = f"SELECT COUNT(*) AS n FROM churn_alert a JOIN customer c ON c.id = a.customer_id WHERE {' AND '.join(conditions)}"
    return (await fetch(sql, q))[0]["n"]

