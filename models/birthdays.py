"""Upcoming birthdays: the visible customers whose birthday falls in the next days, soonest first.

"Today" is the working calendar's (Asia/Shanghai unless configured). A birthday on 29 February
is celebrated on 28 February in other years. The days ahead become a list of month-days, so
one statement picks and orders the customers on both databases, across the year's end too.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from models.customers import Customer, columns_of, select_list
from models.errors import DomainError, ErrorCode
from models.scope import Scope, requires
from models.service_levels import working_calendar
from models.sql import Query, fetch

__all__ = ["MAX_DAYS", "business_today", "celebrated_on", "celebrated_within", "upcoming_birthdays"]

MAX_DAYS = 31
MAX_FIRST = 100


def celebrated_on(birthday: date, year: int) -> date:
    """The day in ``year`` a birthday is celebrated: 29 February falls on the 28th outside leap years."""
    if birthday.month == 2 and birthday.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return birthday.replace(year=year)


def _month_days(today: date, days: int) -> list[tuple[str, int]]:
    """``(MM-DD, days from today)`` for each birthday that is celebrated in the next ``days`` days."""
    keys = []
    for ahead in range(days + 1):
        day = today + timedelta(days=ahead)
        keys.append((day.strftime("%m-%d"), ahead))
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            keys.append(("02-29", ahead))
    return keys


def _month_day(column: str, dialect: str) -> str:
    return f"strftime('%m-%d', {column})" if dialect == "sqlite" else f"to_char({column}, 'MM-DD')"


async def business_today() -> date:
    """Today in the business's time zone (the working calendar's)."""
    return datetime.now(UTC).astimezone(ZoneInfo((await working_calendar()).timezone)).date()


def celebrated_within(q: Query, column: str, today: date, days: int) -> str:
    """The condition "the birthday in ``column`` is celebrated from ``today`` to ``days`` ahead"."""
    return f"{_month_day(column, q.dialect)} IN {q.in_list(sorted({key for key, _ in _month_days(today, days)}))}"


@requires("customer.read")
async def upcoming_birthdays(scope: Scope, days: int = 7, first: int = 20, today: date | None = None) -> list[dict[str, Any]]:
    """Visible customers with a birthday from today to ``days`` ahead, soonest first, then by name.

    Each row has the customer's columns and ``days_until``; without customer.pii birthdays are
    masked and so is this list: it would tell them.
    """
    if not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
        raise DomainError.single("days", f"days must be from 0 to {MAX_DAYS}.", ErrorCode.INVALID)
    if not isinstance(first, int) or not 0 <= first <= MAX_FIRST:
        raise DomainError.single("first", f"first must be from 0 to {MAX_FIRST}.", ErrorCode.INVALID)
    if not scope.can("customer.pii") or first == 0:
        return []
    if today is None:
        today = await business_today()
    q = Query()
    keys = _month_days(today, days)
    month_day = _month_day("c.birthday", q.dialect)
    order = " ".join(f"WHEN {q.param(key)} THEN {ahead}" for key, ahead in keys)
    sql = (
        f"SELECT * FROM (SELECT {select_list('c', columns_of(('name', 'birthday', 'phone', 'owner_id', 'team_id')))},"
        f" CASE {month_day} {order} END AS days_until FROM customer c"
        f" WHERE c.birthday IS NOT NULL AND {scope.customers(q, 'c')}) t"
        f" WHERE days_until IS NOT NULL ORDER BY days_until, name, id LIMIT {first}"
    )
    return [scope.present(row) | {"days_until": row["days_until"]} for row in await fetch(sql, q, Customer)]
