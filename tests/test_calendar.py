"""SLA clocks in working time: models.calendar.WorkingCalendar.

Expected instants are worked out by hand and written in UTC. Asia/Shanghai is UTC+8 all year, so local 09:30 is
01:30 UTC and local 18:00 is 10:00 UTC. Europe/Berlin is UTC+1 in winter and UTC+2 from 2026-03-29 02:00 local.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.calendar import WorkingCalendar, check_hours

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600

OFFICE = WorkingCalendar()
# A National Day week as the brief gives it: 1–7 October off, Sunday 27 September and Saturday 10 October worked.
NATIONAL_DAY = WorkingCalendar(
    holidays=frozenset(date(2026, 10, day) for day in range(1, 8)),
    workdays=frozenset({date(2026, 9, 27), date(2026, 10, 10)}),
)
# Sunday 29 March 2026 is the spring-forward day in Berlin; it is made a working day here.
BERLIN_OFFICE = WorkingCalendar(timezone="Europe/Berlin", workdays=frozenset({date(2026, 3, 29)}))


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_after_closing_carries_over_to_next_morning():
    # Monday 17:30 + 1h: 30 minutes on Monday, 30 on Tuesday -> Tuesday 09:30 local.
    assert OFFICE.add(shanghai(2026, 3, 2, 17, 30), HOUR) == utc(2026, 3, 3, 1, 30)


def test_weekend_is_skipped():
    # Friday 17:00 + 4h: 1h on Friday, 3h on Monday -> Monday 12:00 local.
    assert OFFICE.add(shanghai(2026, 3, 6, 17, 0), 4 * HOUR) == utc(2026, 3, 9, 4, 0)
    # Filed on Saturday, the clock starts Monday 09:00 -> Monday 13:00 local.
    assert OFFICE.add(shanghai(2026, 3, 7, 10, 0), 4 * HOUR) == utc(2026, 3, 9, 5, 0)


def test_result_is_utc():
    result = OFFICE.add(shanghai(2026, 3, 2, 10, 0), HOUR)
    assert result.tzinfo is UTC
    assert result == utc(2026, 3, 2, 3, 0)


def test_national_day_week_stops_the_clock():
    # Wednesday 30 September 17:00 + 8h: 1h on the 30th, 1–7 October off, 7h on Thursday 8 October -> 16:00 local.
    assert NATIONAL_DAY.add(shanghai(2026, 9, 30, 17, 0), 8 * HOUR) == utc(2026, 10, 8, 8, 0)


def test_make_up_sunday_counts_in_add():
    # Saturday 26 September 10:00 + 2h: the clock starts on the make-up Sunday at 09:00 -> 11:00 local.
    assert NATIONAL_DAY.add(shanghai(2026, 9, 26, 10, 0), 2 * HOUR) == utc(2026, 9, 27, 3, 0)
    # Without the make-up day it would be Monday 28 September 11:00.
    assert OFFICE.add(shanghai(2026, 9, 26, 10, 0), 2 * HOUR) == utc(2026, 9, 28, 3, 0)


def test_make_up_saturday_counts_in_between():
    # Friday 9 October 17:00 to Monday 12 October 10:00: 1h Friday + 9h make-up Saturday + 1h Monday.
    start, end = shanghai(2026, 10, 9, 17, 0), shanghai(2026, 10, 12, 10, 0)
    assert NATIONAL_DAY.between(start, end) == 11 * HOUR
    assert OFFICE.between(start, end) == 2 * HOUR


def test_is_working_day():
    assert NATIONAL_DAY.is_working_day(date(2026, 9, 30))  # Wednesday
    assert not NATIONAL_DAY.is_working_day(date(2026, 10, 1))  # Thursday, holiday
    assert not NATIONAL_DAY.is_working_day(date(2026, 10, 4))  # Sunday, holiday
    assert NATIONAL_DAY.is_working_day(date(2026, 10, 10))  # Saturday, make-up day
    assert not NATIONAL_DAY.is_working_day(date(2026, 10, 11))  # Sunday
    both = WorkingCalendar(holidays=frozenset({date(2026, 10, 10)}), workdays=frozenset({date(2026, 10, 10)}))
    assert both.is_working_day(date(2026, 10, 10))  # a make-up day wins over a holiday


def test_dst_day_is_nine_hours():
    # 29 March 2026: 09:00 and 18:00 local are both CEST (UTC+2), so 07:00–16:00 UTC.
    opening, closing = berlin(2026, 3, 29, 9, 0), berlin(2026, 3, 29, 18, 0)
    assert BERLIN_OFFICE.between(opening, closing) == 9 * HOUR
    assert BERLIN_OFFICE.between(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 9 * HOUR
    assert BERLIN_OFFICE.add(opening, 9 * HOUR) == utc(2026, 3, 29, 16, 0)
    # The day opens at 07:00 UTC, an hour earlier in UTC than on Friday (CET, 08:00 UTC).
    assert BERLIN_OFFICE.add(utc(2026, 3, 29, 0, 0), 1) == utc(2026, 3, 29, 7, 0, 1)
    assert BERLIN_OFFICE.add(utc(2026, 3, 27, 0, 0), 1) == utc(2026, 3, 27, 8, 0, 1)


def test_dst_carry_over():
    # Friday 27 March 17:00 CET (16:00 UTC) + 2h: 1h Friday, Saturday off, Sunday 09:00 CEST + 1h -> 08:00 UTC.
    assert BERLIN_OFFICE.add(berlin(2026, 3, 27, 17, 0), 2 * HOUR) == utc(2026, 3, 29, 8, 0)
    # Friday 09:00 CET to Monday 18:00 CEST: Friday, the worked Sunday and Monday, 9h each.
    assert BERLIN_OFFICE.between(berlin(2026, 3, 27, 9, 0), berlin(2026, 3, 30, 18, 0)) == 27 * HOUR


def test_hours_across_the_clock_change_count_real_time():
    night = WorkingCalendar(timezone="Europe/Berlin", day_start=time(1, 0), day_end=time(4, 0), weekdays=frozenset({6}))
    # Spring forward: 01:00 CET (00:00 UTC) to 04:00 CEST (02:00 UTC) is two hours.
    assert night.between(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 2 * HOUR
    assert night.add(berlin(2026, 3, 29), 2 * HOUR) == utc(2026, 3, 29, 2, 0)
    # Fall back on 25 October: 01:00 CEST (23:00 UTC on the 24th) to 04:00 CET (03:00 UTC) is four hours.
    assert night.between(berlin(2026, 10, 25), berlin(2026, 10, 26)) == 4 * HOUR
    assert night.add(berlin(2026, 10, 25), 4 * HOUR) == utc(2026, 10, 25, 3, 0)


def test_exactly_at_closing_returns_closing():
    assert OFFICE.add(shanghai(2026, 3, 2, 17, 0), HOUR) == utc(2026, 3, 2, 10, 0)  # Monday 18:00, not Tuesday 09:00
    assert OFFICE.add(shanghai(2026, 3, 2, 9, 0), 9 * HOUR) == utc(2026, 3, 2, 10, 0)
    # One more second goes to the next opening.
    assert OFFICE.add(shanghai(2026, 3, 2, 9, 0), 9 * HOUR + 1) == utc(2026, 3, 3, 1, 0, 1)


def test_zero_seconds_returns_start():
    saturday = shanghai(2026, 3, 7, 22, 15)
    result = OFFICE.add(saturday, 0)
    assert result == saturday
    assert result.tzinfo is UTC


def test_long_targets_and_long_holidays():
    # 30 holidays, every day of March from the 2nd: the clock starts on Wednesday 1 April.
    march_off = WorkingCalendar(holidays=frozenset(date(2026, 3, 2) + timedelta(days=n) for n in range(30)))
    assert march_off.add(shanghai(2026, 3, 2, 9, 0), HOUR) == utc(2026, 4, 1, 2, 0)
    # 7 days of working time is 168h = 18 working days of 9h + 6h: Monday 2 March to Wednesday 25 March is
    # 18 working days, then 6h on Thursday 26 March -> 15:00 local.
    assert OFFICE.add(shanghai(2026, 3, 2, 9, 0), 7 * 24 * HOUR) == utc(2026, 3, 26, 7, 0)


@pytest.mark.parametrize(
    ("calendar", "first"),
    [(NATIONAL_DAY, shanghai(2026, 9, 24, 0, 0, 7)), (BERLIN_OFFICE, berlin(2026, 3, 22, 0, 0, 7))],
    ids=["national-day", "berlin-dst"],
)
def test_between_inverts_add(calendar: WorkingCalendar, first: datetime):
    for n in range(14 * 24 * 60 // 37):
        start = first + timedelta(minutes=37 * n)
        for seconds in (0.5, 1, 1799.25, HOUR, 9 * HOUR, 9 * HOUR + 1, 7 * 24 * HOUR):
            end = calendar.add(start, seconds)
            assert end > start
            assert calendar.between(start, end) == pytest.approx(seconds, abs=1e-6), (start, seconds)


def test_between_is_zero_unless_end_is_after_start():
    monday = shanghai(2026, 3, 2, 10, 0)
    assert OFFICE.between(monday, monday) == 0
    assert OFFICE.between(monday, monday - timedelta(hours=1)) == 0
    assert OFFICE.between(shanghai(2026, 3, 7, 9, 0), shanghai(2026, 3, 8, 18, 0)) == 0  # a weekend


def test_naive_datetimes_are_refused():
    naive, aware = datetime(2026, 3, 2, 10, 0), shanghai(2026, 3, 2, 10, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        OFFICE.add(naive, HOUR)
    with pytest.raises(ValueError, match="timezone-aware"):
        OFFICE.between(naive, aware)
    with pytest.raises(ValueError, match="timezone-aware"):
        OFFICE.between(aware, naive)


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_bad_seconds_are_refused(seconds: float):
    with pytest.raises(ValueError, match="seconds"):
        OFFICE.add(shanghai(2026, 3, 2, 10, 0), seconds)


def test_calendar_without_working_days_raises_instead_of_hanging():
    empty = WorkingCalendar(weekdays=frozenset())
    with pytest.raises(ValueError, match="working days"):
        empty.add(shanghai(2026, 3, 2, 10, 0), 1)
    # Make-up days only in the past do not help either.
    stale = WorkingCalendar(weekdays=frozenset(), workdays=frozenset({date(2020, 1, 4)}))
    with pytest.raises(ValueError, match="working days"):
        stale.add(shanghai(2026, 3, 2, 10, 0), 1)
    assert empty.between(shanghai(2026, 3, 2), shanghai(2026, 4, 2)) == 0


@pytest.mark.parametrize("timezone", ["Mars/Olympus", "", "Europe", "../etc/passwd"])
def test_bad_timezone_raises(timezone: str):
    with pytest.raises(ValueError, match="time zone"):
        WorkingCalendar(timezone=timezone)


@pytest.mark.parametrize("weekdays", [{7}, {-1}, {0, 1, 9}, {"monday"}])
def test_bad_weekdays_raise(weekdays: set):
    with pytest.raises(ValueError, match="weekdays"):
        WorkingCalendar(weekdays=frozenset(weekdays))


def test_hours_must_open_before_closing():
    check_hours(time(9, 0), time(18, 0))
    for day_start, day_end in [(time(18, 0), time(9, 0)), (time(9, 0), time(9, 0))]:
        with pytest.raises(ValueError, match="open before they close"):
            check_hours(day_start, day_end)
        with pytest.raises(ValueError, match="open before they close"):
            WorkingCalendar(day_start=day_start, day_end=day_end)


def test_sets_are_frozen():
    calendar = WorkingCalendar(weekdays={0, 1}, holidays={date(2026, 1, 1)})  # type: ignore[arg-type]
    assert calendar.weekdays == frozenset({0, 1})
    assert hash(calendar) == hash(WorkingCalendar(weekdays=frozenset({0, 1}), holidays=frozenset({date(2026, 1, 1)})))
