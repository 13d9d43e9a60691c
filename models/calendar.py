"""Working calendars for SLA clocks.

An SLA clock counts working time, not elapsed time: a four-hour target filed on Friday evening runs out on
Monday, and a public holiday stops the clock for the whole day. A calendar is a time zone, the daily opening
hours, the working weekdays, the public holidays and the make-up working days (调休) that China moves onto a
weekend around a long holiday. Every instant in and out is timezone-aware; results are in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["WorkingCalendar", "check_hours"]

# How far ahead `add` looks before giving up: ten years of calendar days, so a calendar without working days
# raises instead of looping forever.
MAX_DAYS = 3660


def check_hours(day_start: time, day_end: time) -> None:
    """Raise ValueError unless the working day opens before it closes."""
    if not day_start < day_end:
        raise ValueError(
            f"working hours must open before they close, got {day_start.isoformat()}–{day_end.isoformat()}"
        )


@dataclass(frozen=True)
class WorkingCalendar:
    """Working hours in a time zone, with public holidays and make-up working days (调休)."""

    timezone: str = "Asia/Shanghai"
    day_start: time = time(9, 0)
    day_end: time = time(18, 0)
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    holidays: frozenset[date] = frozenset()  # days off, even if their weekday works
    workdays: frozenset[date] = frozenset()  # make-up working days (调休), even if their weekday is off

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (KeyError, ValueError, TypeError, OSError):  # OSError: a folder such as "Europe"
            raise ValueError(f"unknown time zone {self.timezone!r}, expected e.g. 'Asia/Shanghai'") from None
        check_hours(self.day_start, self.day_end)
        # Sets passed in are frozen so that the calendar stays hashable.
        for name in ("weekdays", "holidays", "workdays"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        bad = sorted(str(day) for day in self.weekdays if not (isinstance(day, int) and 0 <= day <= 6))
        if bad:
            raise ValueError(f"weekdays must be 0 (Monday) to 6 (Sunday), got {', '.join(bad)}")

    def is_working_day(self, day: date) -> bool:
        """Whether `day` has working hours: make-up workdays always, holidays never, other days by their weekday."""
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() in self.weekdays

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant, in UTC, at which `seconds` of working time after `start` have passed.

        The clock starts at the next opening when `start` is outside working hours, and a target that runs out
        exactly at closing time ends at closing. Zero seconds return `start` itself.
        """
        start = _utc(start, "start")
        if not 0 <= seconds < float("inf"):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        if seconds == 0:
            return start
        remaining = timedelta(seconds=seconds)
        day = self._local_date(start)
        for _ in range(MAX_DAYS):
            window = self._window(day)
            if window is not None:
                opening, closing = max(window[0], start), window[1]
                if opening < closing:
                    if remaining <= closing - opening:
                        return opening + remaining
                    remaining -= closing - opening
            day += timedelta(days=1)
        raise ValueError(
            f"{seconds} seconds of working time do not fit in {MAX_DAYS} days of this calendar; "
            "does it have any working days?"
        )

    def between(self, start: datetime, end: datetime) -> float:
        """Seconds of working time in [start, end); 0 when `end` is not after `start`."""
        start, end = _utc(start, "start"), _utc(end, "end")
        if end <= start:
            return 0.0
        total = timedelta()
        day, last = self._local_date(start), self._local_date(end)
        while day <= last:
            window = self._window(day)
            if window is not None:
                opening, closing = max(window[0], start), min(window[1], end)
                if opening < closing:
                    total += closing - opening
            day += timedelta(days=1)
        return total.total_seconds()

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(ZoneInfo(self.timezone)).date()

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """Opening and closing of `day` in UTC, or None on a day off.

        Each end is built as a local wall time and converted on its own, so opening and closing stay at the
        hours people see even on the day the clocks change; the working time between them is real elapsed time.
        """
        if not self.is_working_day(day):
            return None
        zone = ZoneInfo(self.timezone)
        opening = datetime.combine(day, self.day_start, tzinfo=zone).astimezone(UTC)
        closing = datetime.combine(day, self.day_end, tzinfo=zone).astimezone(UTC)
        return opening, closing


def _utc(instant: datetime, name: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {instant.isoformat()}")
    return instant.astimezone(UTC)
