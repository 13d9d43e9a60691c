"""How the base is doing (经营分析): the figures of the dashboard, each one SQL statement under the caller's scope.

A ``Window`` is a span of whole days in the business's time zone (the working calendar's), and
optionally one team within the caller's reach; its months are the buckets of the monthly series.
Every figure counts only customers the caller sees (``Scope.customers``) of that team, and the
figures about complaints and surveys need ``complaint.read`` as well (None without it). Money is
in the base currency, other currencies converted by the exchange rates and those without a rate
left out, as the monetary score does (``segments.in_base``, ``segments.convertible``).
Percentiles are by rank: the median is the middle value (the mean of the two middle ones for an
even count), p90 the value at rank ⌈0.9·n⌉; resolution times count in tenths of an hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from models.db import parallel_reads
from models.errors import DomainError, ErrorCode
from models.orders import paid
from models.scope import Scope, requires
from models.segments import Stage, Tier, convertible, in_base
from models.service_levels import working_calendar
from models.sql import Query, fetch, money, money_sum

__all__ = [
    "FIRST_YEAR", "LAST_YEAR", "MAX_MONTHS", "MAX_REFERRERS", "SERVICE", "Window", "churn_alerts_opened", "complaint_resolution_hours",
    "instants", "lifecycle_funnel",
    "new_customers", "repeat_purchase_rate", "retention_rate", "revenue", "satisfaction", "sla_compliance_rate",
    "teams", "tier_distribution", "top_referrers", "window",
]

MAX_REFERRERS = 100
SERVICE = "complaint.read"
"""What the figures about complaints and surveys need besides customer.read; without it they are None."""
MAX_MONTHS = 36
FIRST_YEAR, LAST_YEAR = 1970, 2999
"""The years a window may fall in."""
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Window:
    """The days ``first`` to ``last`` (business time zone) as instants [start, stop), their months, and a team."""

    first: date
    last: date
    start: datetime
    stop: datetime
    months: tuple[tuple[str, datetime, datetime], ...]
    team_id: int | None = None

    @property
    def previous(self) -> tuple[datetime, datetime]:
        """The span of the same length just before: what retention compares with."""
        return self.start - (self.stop - self.start), self.start


async def instants(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """The days ``first`` to ``last`` of the business's time zone (either open) as instants
    [start, stop); refused unless they fall in the years a window may take, in order."""
    for name, day in (("to", last), ("from", first)):
        if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise DomainError.single(name, f"{name} must be a day of the years {FIRST_YEAR} to {LAST_YEAR}.", ErrorCode.INVALID)
    if first is not None and last is not None and first > last:
        raise DomainError.single("from", "from must be on or before to.", ErrorCode.INVALID)
    zone = await _zone()
    return (
        None if first is None else _midnight(first, zone),
        None if last is None else _midnight(last + timedelta(days=1), zone),
    )


async def _zone() -> ZoneInfo:
    return ZoneInfo((await working_calendar()).timezone)


@requires("customer.read")
async def window(scope: Scope, first: date | None, last: date | None, team_id: int | None = None) -> Window:
    """The window of the days ``first`` to ``last`` (by default the last 12 months to today), of
    ``team_id`` when given (a team within the caller's reach)."""
    zone = await _zone()
    last = last or datetime.now(UTC).astimezone(zone).date()
    if first is None:  # the twelve months to ``last``, this one included
        months_back = last.year * 12 + last.month - 1 - 11
        first = date(months_back // 12, months_back % 12 + 1, 1)
    start, stop = await instants(first, last)
    months = _months(first, last, zone)
    if len(months) > MAX_MONTHS:
        raise DomainError.single("from", f"a window spans at most {MAX_MONTHS} months.", ErrorCode.INVALID)
    if team_id is not None and not scope.reaches_team(team_id):
        raise DomainError.single("teamId", "no such team.", ErrorCode.NOT_FOUND)
    return Window(first, last, start, stop, months, team_id)


@requires("customer.read")
async def teams(scope: Scope) -> list[dict[str, Any]]:
    """The teams a window may be narrowed to: those within the caller's reach, by name."""
    q = Query()
    return await fetch(f"SELECT t.id, t.name FROM team t WHERE {scope.teams(q, 't.id')} ORDER BY t.name, t.id LIMIT 1000", q)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _months(first: date, last: date, zone: ZoneInfo) -> tuple[tuple[str, datetime, datetime], ...]:
    months = []
    day = first
    while day <= last and len(months) <= MAX_MONTHS:
        following = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        end = min(following, last + timedelta(days=1))
        months.append((day.strftime("%Y-%m"), _midnight(day, zone), _midnight(end, zone)))
        day = following
    return tuple(months)


async def _read(sql: str, q: Query) -> list[dict[str, Any]]:
    """A figure's rows: its statement reads up to a year of a table, and may take a second core."""
    async with parallel_reads():
        return await fetch(sql, q)


def _visible(scope: Scope, q: Query, w: Window, alias: str = "c") -> str:
    """The customers the caller sees, of the window's team."""
    team = f" AND {alias}.team_id = {q.param(w.team_id)}" if w.team_id is not None else ""
    return scope.customers(q, alias) + team


def _instant(q: Query, value: datetime) -> str:
    return f"CAST({q.param(value)} AS TIMESTAMPTZ)" if q.dialect != "sqlite" else q.param(value)


def _within(q: Query, column: str, start: datetime, stop: datetime) -> str:
    return f"{column} >= {_instant(q, start)} AND {column} < {_instant(q, stop)}"


def _month(q: Query, w: Window, column: str) -> str:
    """The index in ``w.months`` of the month ``column`` (a time inside the window) falls in."""
    cases = " ".join(f"WHEN {column} < {_instant(q, stop)} THEN {n}" for n, (_, _, stop) in enumerate(w.months[:-1]))
    return f"CASE {cases} ELSE {len(w.months) - 1} END" if cases else "0"


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(_CENT)


def _rate(part: int, whole: int) -> float | None:
    return None if not whole else float(_half_up(Fraction(part, whole), 4))


# --- the base ---------------------------------------------------------------------------------


async def _segment_counts(scope: Scope, w: Window, column: str, kinds: type[Tier] | type[Stage]) -> list[tuple[Any, int]]:
    q = Query()
    rows = await _read(
        f"SELECT s.{column} AS kind, COUNT(*) AS n FROM customer_segment s JOIN customer c ON c.id = s.customer_id"
        f" WHERE {_visible(scope, q, w)} GROUP BY s.{column}", q,
    )
    counts = {row["kind"]: row["n"] for row in rows}
    return [(kind, counts.get(kind.value, 0)) for kind in kinds]


@requires("customer.read")
async def tier_distribution(scope: Scope, w: Window) -> list[tuple[Tier, int]]:
    """How many customers (of the window's team) are in each tier now."""
    return await _segment_counts(scope, w, "tier", Tier)


@requires("customer.read")
async def lifecycle_funnel(scope: Scope, w: Window) -> list[tuple[Stage, int]]:
    """How many customers are at each lifecycle stage now, prospects first."""
    return await _segment_counts(scope, w, "stage", Stage)


@requires("customer.read")
async def new_customers(scope: Scope, w: Window) -> list[tuple[str, int]]:
    """Customers created, by month."""
    q = Query()
    rows = await _read(
        f"SELECT {_month(q, w, 'c.created_at')} AS month, COUNT(*) AS n FROM customer c WHERE {_visible(scope, q, w)}"
        f" AND {_within(q, 'c.created_at', w.start, w.stop)} GROUP BY 1", q,
    )
    found = {row["month"]: row["n"] for row in rows}
    return [(label, found.get(n, 0)) for n, (label, _, _) in enumerate(w.months)]


@dataclass(frozen=True)
class Revenue:
    by_month: list[tuple[str, Decimal, int]]
    """(month, revenue in the base currency, paid orders)."""

    @property
    def total(self) -> Decimal:
        return sum((amount for _, amount, _ in self.by_month), Decimal(0))

    @property
    def orders(self) -> int:
        return sum(count for _, _, count in self.by_month)

    @property
    def average_order_value(self) -> Decimal | None:
        return (self.total / self.orders).quantize(_CENT) if self.orders else None


@requires("customer.read")
async def revenue(scope: Scope, w: Window) -> Revenue:
    """Paid orders by the month they were paid in: their value in the base currency, and how many."""
    q = Query()
    rows = await _read(
        f"SELECT {_month(q, w, 'o.paid_at')} AS month, x.rate, {money_sum('o.amount')} AS amount, COUNT(*) AS n FROM orders o"
        f" JOIN customer c ON c.id = o.customer_id LEFT JOIN exchange_rate x ON x.currency = o.currency"
        f" WHERE {paid('o')} AND {convertible(q)} AND {_within(q, 'o.paid_at', w.start, w.stop)} AND {_visible(scope, q, w)}"
        " GROUP BY 1, o.currency, x.rate", q,
    )
    totals: dict[int, tuple[Decimal, int]] = {}
    for row in rows:  # each currency's exact sum, converted here: the same cents on SQLite as on PostgreSQL
        amount, n = totals.get(row["month"], (Decimal(0), 0))
        totals[row["month"]] = amount + money(row["amount"]) * Decimal(str(row["rate"] or 1)), n + row["n"]
    empty = (Decimal(0).quantize(_CENT), 0)
    months = [(label, totals.get(n, empty)) for n, (label, _, _) in enumerate(w.months)]
    return Revenue([(label, amount.quantize(_CENT), n) for label, (amount, n) in months])


def _buyers(scope: Scope, q: Query, w: Window) -> str:
    """Who paid in the window, and for how many orders."""
    return (
        f"SELECT o.customer_id, COUNT(*) AS n FROM orders o JOIN customer c ON c.id = o.customer_id WHERE {paid('o')}"
        f" AND {_within(q, 'o.paid_at', w.start, w.stop)} AND {_visible(scope, q, w)} GROUP BY o.customer_id"
    )


@requires("customer.read")
async def retention_rate(scope: Scope, w: Window) -> float | None:
    """Of the customers who paid in the span just before the window (as long as it), the share who paid in it too."""
    q = Query()
    start, (earlier, _) = _instant(q, w.start), w.previous
    rows = await _read(
        f"SELECT COUNT(*) AS whole, COALESCE(SUM(during), 0) AS kept FROM (SELECT o.customer_id,"
        f" MAX(CASE WHEN o.paid_at < {start} THEN 1 ELSE 0 END) AS before, MAX(CASE WHEN o.paid_at >= {start} THEN 1 ELSE 0 END) AS during"
        f" FROM orders o JOIN customer c ON c.id = o.customer_id WHERE {paid('o')} AND {_within(q, 'o.paid_at', earlier, w.stop)}"
        f" AND {_visible(scope, q, w)} GROUP BY o.customer_id) b WHERE before = 1", q,
    )
    return _rate(rows[0]["kept"], rows[0]["whole"])


@requires("customer.read")
async def repeat_purchase_rate(scope: Scope, w: Window) -> float | None:
    """Of the customers who paid in the window, the share who paid for two orders or more."""
    q = Query()
    rows = await _read(
        f"SELECT COUNT(*) AS whole, COALESCE(SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END), 0) AS again"
        f" FROM ({_buyers(scope, q, w)}) b", q,
    )
    return _rate(rows[0]["again"], rows[0]["whole"])


@requires("customer.read")
async def churn_alerts_opened(scope: Scope, w: Window) -> int:
    """Churn alerts opened in the window."""
    q = Query()
    rows = await _read(
        f"SELECT COUNT(*) AS n FROM churn_alert a JOIN customer c ON c.id = a.customer_id WHERE {_visible(scope, q, w)}"
        f" AND {_within(q, 'a.opened_at', w.start, w.stop)}", q,
    )
    return rows[0]["n"]


@dataclass(frozen=True)
class Referrer:
    customer_id: int
    revenue: Decimal
    customers: int
    """Downstream customers who paid in the window."""


@requires("customer.read")
async def top_referrers(scope: Scope, w: Window, first: int = 10) -> list[Referrer]:
    """The customers whose downstream (everyone they referred, directly or not) paid the most in the
    window. The chain is followed through the customers the caller sees (of the team asked) only:
    a customer it cannot see ends it, so that no link through one is shown."""
    if not 1 <= first <= MAX_REFERRERS:
        raise DomainError.single("first", f"first must be from 1 to {MAX_REFERRERS}.", ErrorCode.INVALID)
    q = Query()
    rows = await _read(
        f"WITH RECURSIVE payers AS (SELECT c.referrer_id, SUM({in_base(q)}) AS value FROM orders o"
        f" JOIN customer c ON c.id = o.customer_id LEFT JOIN exchange_rate x ON x.currency = o.currency"
        f" WHERE {paid('o')} AND {convertible(q)} AND {_within(q, 'o.paid_at', w.start, w.stop)} AND c.referrer_id IS NOT NULL"
        f" AND {_visible(scope, q, w)} GROUP BY o.customer_id, c.referrer_id),"
        " up(ancestor, value, depth) AS (SELECT referrer_id, value, 1 FROM payers UNION ALL"
        " SELECT c.referrer_id, up.value, up.depth + 1 FROM up JOIN customer c ON c.id = up.ancestor"
        f" WHERE c.referrer_id IS NOT NULL AND up.depth < 100 AND {_visible(scope, q, w)})"
        " SELECT up.ancestor AS customer_id, SUM(up.value) AS revenue, COUNT(*) AS customers FROM up"
        f" JOIN customer c ON c.id = up.ancestor WHERE {_visible(scope, q, w)}"
        f" GROUP BY up.ancestor ORDER BY revenue DESC, up.ancestor LIMIT {first}", q,
    )
    return [Referrer(row["customer_id"], _money(row["revenue"]), row["customers"]) for row in rows]


# --- complaints and surveys (complaint.read) ---------------------------------------------------


@dataclass(frozen=True)
class Satisfaction:
    by_month: list[tuple[str, float | None, int | None, int]]
    """(month, average CSAT 1–5, NPS −100…100, answers)."""
    average_csat: float | None
    nps: int | None


def _half_up(value: Fraction, places: int = 0) -> Decimal:
    """``value`` rounded half away from zero, as a report rounds (not to even, as Python's round)."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def _nps(promoters: int, detractors: int, rated: int) -> int | None:
    return None if not rated else int(_half_up(Fraction(100 * (promoters - detractors), rated)))


@requires("customer.read")
async def satisfaction(scope: Scope, w: Window) -> Satisfaction | None:
    """Survey answers of the window about complaints of customers the caller sees: CSAT and NPS, by
    month and in all (None without ``SERVICE``)."""
    if not scope.can(SERVICE):
        return None
    q = Query()
    rows = await _read(
        f"SELECT {_month(q, w, 'a.answered_at')} AS month, COUNT(*) AS answers, SUM(a.csat) AS csat, COUNT(a.nps) AS rated,"
        " SUM(CASE WHEN a.nps >= 9 THEN 1 ELSE 0 END) AS promoters, SUM(CASE WHEN a.nps <= 6 THEN 1 ELSE 0 END) AS detractors"
        " FROM survey_answer a JOIN customer c ON c.id = a.customer_id"
        f" WHERE {_within(q, 'a.answered_at', w.start, w.stop)} AND {_visible(scope, q, w)} GROUP BY 1", q,
    )
    counts = {
        row["month"]: (int(row["answers"]), int(row["csat"]), int(row["rated"]), int(row["promoters"]), int(row["detractors"]))
        for row in rows
    }
    total = tuple(map(sum, zip(*counts.values(), strict=True))) if counts else None
    average, nps, _ = _told(total)
    return Satisfaction([(label, *_told(counts.get(n))) for n, (label, _, _) in enumerate(w.months)], average, nps)


def _told(counts: tuple[int, ...] | None) -> tuple[float | None, int | None, int]:
    """(mean CSAT, NPS, answers) from (answers, CSAT sum, NPS answers, promoters, detractors)."""
    if counts is None:
        return None, None, 0
    answers, csat, rated, promoters, detractors = counts
    return float(_half_up(Fraction(csat, answers), 2)), _nps(promoters, detractors, rated), answers


def _tenths_of_hours(q: Query) -> str:
    """Whole tenths of an hour (6 minutes) from filing to resolution, the seconds rounded first (half up)."""
    if q.dialect == "sqlite":
        return "CAST(ROUND((julianday(k.resolved_at) - julianday(k.created_at)) * 86400) AS INTEGER) / 360"
    # date_part is double precision where EXTRACT is numeric: a quarter of the figure's time over a year.
    return "CAST(FLOOR(date_part('epoch', k.resolved_at - k.created_at) + 0.5) AS BIGINT) / 360"


def _resolved(scope: Scope, q: Query, w: Window) -> str:
    return (
        f"complaint k JOIN customer c ON c.id = k.customer_id WHERE k.resolved_at IS NOT NULL AND {_visible(scope, q, w)}"
        f" AND {_within(q, 'k.resolved_at', w.start, w.stop)}"
    )


@requires("customer.read")
async def complaint_resolution_hours(scope: Scope, w: Window) -> tuple[float | None, float | None, int] | None:
    """Hours from filing to resolution of the complaints resolved in the window: median, p90, and how
    many (None without ``SERVICE``). Counted in tenths of an hour (a histogram, not a sort of every
    complaint): each time is taken down to its 6 minutes."""
    if not scope.can(SERVICE):
        return None
    q = Query()
    rows = await _read(
        f"WITH h AS (SELECT {_tenths_of_hours(q)} AS bin, COUNT(*) AS n FROM {_resolved(scope, q, w)} GROUP BY 1),"
        " c AS (SELECT bin, CAST(SUM(n) OVER (ORDER BY bin ROWS UNBOUNDED PRECEDING) AS BIGINT) AS upto,"
        " CAST(SUM(n) OVER () AS BIGINT) AS total FROM h)"
        " SELECT (SELECT MIN(bin) FROM c WHERE upto >= (total + 1) / 2) AS low, (SELECT MIN(bin) FROM c WHERE upto >= (total + 2) / 2)"
        " AS high, (SELECT MIN(bin) FROM c WHERE upto >= (9 * total + 9) / 10) AS p90, (SELECT MAX(total) FROM c) AS n", q,
    )
    row = rows[0]
    if not row["n"]:
        return None, None, 0
    return (int(row["low"]) + int(row["high"])) / 20, int(row["p90"]) / 10, int(row["n"])


@requires("customer.read")
async def sla_compliance_rate(scope: Scope, w: Window) -> float | None:
    """Of the complaints resolved in the window, the share that breached neither their first-response
    nor their resolution target (None without ``SERVICE``, or without any resolved)."""
    if not scope.can(SERVICE):
        return None
    q = Query()
    rows = await _read(
        "SELECT COUNT(*) AS whole, COALESCE(SUM(CASE WHEN NOT k.first_response_breached AND NOT k.resolution_breached"
        f" THEN 1 ELSE 0 END), 0) AS met FROM {_resolved(scope, q, w)}", q,
    )
    return _rate(rows[0]["met"], rows[0]["whole"])
