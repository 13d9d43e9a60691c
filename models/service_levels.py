"""Service levels: the SLA policy of each priority and the working calendar they may count in.

A policy sets how long the business has for a first response and for a resolution. It counts
around the clock or in working time: the working calendar's hours, less public holidays, plus
the make-up working days (调休) that China's holiday schedule moves onto weekends. A complaint
keeps the targets and the way of counting of the policy it was filed under; a changed policy
applies to complaints filed after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.audit import record
from models.calendar import WorkingCalendar
from models.errors import DomainError, ErrorCode, FieldError
from models.scope import Scope, requires
from models.validation import clean_all, clean_choice, clean_text

__all__ = [
    "DEFAULT_TARGETS",
    "CalendarDay",
    "DayKind",
    "Priority",
    "SlaClock",
    "SlaPolicy",
    "WorkingHours",
    "calendar_days",
    "calendar_for",
    "clock_for",
    "policies_for",
    "sla_policies",
    "update_sla_policy",
    "update_working_calendar",
    "working_calendar",
]

MAX_TARGET_MINUTES = 366 * 24 * 60
MAX_DAYS_AT_ONCE = 100


class Priority(str, Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """Higher is more pressing: how the queue sorts by priority."""
        return list(Priority).index(self)


# (first response, resolution) in minutes
DEFAULT_TARGETS = {
    Priority.URGENT: (60, 8 * 60),
    Priority.HIGH: (4 * 60, 24 * 60),
    Priority.NORMAL: (8 * 60, 72 * 60),
    Priority.LOW: (24 * 60, 7 * 24 * 60),
}


class DayKind(str, Enum):
    HOLIDAY = "holiday"
    """A day off, whatever its weekday."""
    WORKDAY = "workday"
    """A make-up working day (调休), whatever its weekday."""


class SlaPolicy(Model):
    id = fields.BigIntField(primary_key=True)
    priority = fields.CharEnumField(Priority, max_length=8, unique=True)
    first_response_minutes = fields.IntField()
    resolution_minutes = fields.IntField()
    working_time = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "sla_policy"


def monday_to_friday() -> list[int]:
    return [0, 1, 2, 3, 4]


class WorkingHours(Model):
    """The one row of the working calendar's weekly hours (id 1)."""

    id = fields.BigIntField(primary_key=True)
    timezone = fields.CharField(max_length=64, default="Asia/Shanghai")
    day_start = fields.CharField(max_length=5, default="09:00")
    day_end = fields.CharField(max_length=5, default="18:00")
    weekdays = fields.JSONField(default=monday_to_friday)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "working_hours"


class CalendarDay(Model):
    """A date that departs from the weekly hours: a holiday, or a make-up working day."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField(unique=True)
    kind = fields.CharEnumField(DayKind, max_length=8)
    name = fields.CharField(max_length=100, default="")

    class Meta:
        table = "calendar_day"


@dataclass(frozen=True)
class SlaClock:
    """How a complaint's clocks count: in ``calendar``'s working time, or around the clock."""

    calendar: WorkingCalendar | None

    def due(self, start: datetime, seconds: float) -> datetime | None:
        """When ``seconds`` of counted time after ``start`` have passed; None when the calendar has too
        little working time to get there (in ten years)."""
        if self.calendar is None:
            return start.astimezone(UTC) + timedelta(seconds=seconds)
        try:
            return self.calendar.add(start, seconds)
        except ValueError:
            return None

    def add(self, start: datetime, seconds: float) -> datetime:
        """``due``, or a refusal to file or resume work under a calendar with too little working time."""
        if (due := self.due(start, seconds)) is None:
            raise DomainError.single(
                None, "the working calendar has too little working time for this SLA target: ask an admin to check "
                "the service levels.", ErrorCode.INVALID,
            )
        return due

    def between(self, start: datetime, end: datetime) -> float:
        if self.calendar is None:
            return max(0.0, (end - start).total_seconds())
        return self.calendar.between(start, end)

    def left(self, now: datetime, due: datetime) -> int:
        """Seconds of counted time from ``now`` to ``due``; negative once it has passed."""
        return round(self.between(now, due) if due >= now else -self.between(due, now))


def _hhmm(value: str) -> time:
    return time.fromisoformat(value)


async def working_calendar(connection=None) -> WorkingCalendar:
    """The calendar as stored: weekly hours, holidays and make-up days."""
    hours = await WorkingHours.get_or_none(id=1).using_db(connection)
    days = await CalendarDay.all().using_db(connection).values("day", "kind")
    holidays = frozenset(d["day"] for d in days if d["kind"] == DayKind.HOLIDAY)
    workdays = frozenset(d["day"] for d in days if d["kind"] == DayKind.WORKDAY)
    if hours is None:
        return WorkingCalendar(holidays=holidays, workdays=workdays)
    return WorkingCalendar(
        timezone=hours.timezone,
        day_start=_hhmm(hours.day_start),
        day_end=_hhmm(hours.day_end),
        weekdays=frozenset(hours.weekdays),
        holidays=holidays,
        workdays=workdays,
    )


async def clock_for(working_time: bool, connection=None) -> SlaClock:
    return SlaClock(await working_calendar(connection) if working_time else None)


def _policy_row(policy: SlaPolicy) -> dict[str, Any]:
    return {
        "id": policy.id,
        "priority": Priority(policy.priority),
        "first_response_minutes": policy.first_response_minutes,
        "resolution_minutes": policy.resolution_minutes,
        "working_time": policy.working_time,
        "updated_at": policy.updated_at,
    }


async def sla_policies(connection=None) -> dict[Priority, dict[str, Any]]:
    """Every priority's policy, the defaults where none is stored."""
    stored = {Priority(p.priority): _policy_row(p) for p in await SlaPolicy.all().using_db(connection)}
    return {
        priority: stored.get(priority) or {
            "id": None, "priority": priority, "first_response_minutes": first, "resolution_minutes": resolution,
            "working_time": False, "updated_at": None,
        }
        for priority, (first, resolution) in sorted(DEFAULT_TARGETS.items(), key=lambda item: -item[0].rank)
    }


def _minutes(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TARGET_MINUTES:
        raise DomainError.single(field, f"{field} must be a whole number of minutes from 1 to {MAX_TARGET_MINUTES}.", ErrorCode.INVALID)
    return value


@requires("complaint.configure")
async def update_sla_policy(scope: Scope, priority: Any, changes: dict[str, Any]) -> dict[str, Any]:
    """Change one priority's targets or way of counting; complaints filed before keep theirs."""
    priority = clean_choice(priority, Priority, "priority", required=True)
    async with in_transaction() as connection:
        current = (await sla_policies(connection))[priority]
        values = {
            "first_response_minutes": _minutes(changes.get("first_response_minutes", current["first_response_minutes"]), "firstResponseMinutes"),
            "resolution_minutes": _minutes(changes.get("resolution_minutes", current["resolution_minutes"]), "resolutionMinutes"),
            "working_time": bool(changes.get("working_time", current["working_time"])),
        }
        if values["first_response_minutes"] > values["resolution_minutes"]:
            raise DomainError.single(
                "firstResponseMinutes", "the first response cannot be due after the resolution.", ErrorCode.INVALID
            )
        _targets_fit(await working_calendar(connection), {priority: values}, "resolutionMinutes")
        policy = await SlaPolicy.get_or_none(priority=priority).using_db(connection)
        if policy is None:
            policy = await SlaPolicy.create(priority=priority, using_db=connection, **values)
        else:
            await SlaPolicy.filter(id=policy.id).using_db(connection).update(**values)
            policy = await SlaPolicy.get(id=policy.id).using_db(connection)
        await record(scope, "sla_policy.update", "sla_policy", policy.id, before=current | {"id": policy.id},
                     after=_policy_row(policy), connection=connection)
    return _policy_row(policy)


def _clean_hours(changes: dict[str, Any]) -> dict[str, Any]:
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    if "timezone" in changes:
        zone = clean_text(changes["timezone"], "timezone", max_length=64, required=True)
        try:
            ZoneInfo(zone)
            values["timezone"] = zone
        except (ValueError, KeyError, OSError):
            errors.append(FieldError("timezone", f"{zone!r} is not an IANA time zone, such as Asia/Shanghai.", ErrorCode.INVALID))
    for name, field in (("day_start", "dayStart"), ("day_end", "dayEnd")):
        if name in changes:
            try:
                values[name] = _hhmm(str(changes[name])[:5]).strftime("%H:%M")
            except ValueError:
                errors.append(FieldError(field, f"{field} must be a time of day such as 09:00.", ErrorCode.INVALID))
    if "weekdays" in changes:
        days = changes["weekdays"]
        if not isinstance(days, list | tuple) or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
            errors.append(FieldError("weekdays", "weekdays are numbers from 0 (Monday) to 6 (Sunday).", ErrorCode.INVALID))
        else:
            values["weekdays"] = sorted(set(days))
    if errors:
        raise DomainError(errors)
    return values


def _hours_row(hours: WorkingHours) -> dict[str, Any]:
    return {"timezone": hours.timezone, "day_start": hours.day_start, "day_end": hours.day_end, "weekdays": list(hours.weekdays)}


def _clean_day(value: Any) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value))
        except ValueError:
            raise DomainError.single("day", "day must be a date such as 2026-10-01.", ErrorCode.INVALID) from None
    if not 2000 <= value.year <= 2999:
        raise DomainError.single("day", "day must be between the years 2000 and 2999.", ErrorCode.INVALID)
    return value


def _clean_days(days: list[dict[str, Any]]) -> list[tuple[date, DayKind | None, str]]:
    if len(days) > MAX_DAYS_AT_ONCE:
        raise DomainError.single("days", f"set at most {MAX_DAYS_AT_ONCE} days at once.", ErrorCode.INVALID)
    return [
        (_clean_day(day.get("day")), clean_choice(day.get("kind"), DayKind, "kind"),
         clean_text(day.get("name"), "name", max_length=100) or "")
        for day in days
    ]


async def _save_hours(scope: Scope, values: dict[str, Any], connection) -> None:
    hours, _ = await WorkingHours.get_or_create(id=1, using_db=connection)
    before = _hours_row(hours)
    after = before | values
    if after["day_start"] >= after["day_end"]:
        raise DomainError.single("dayEnd", "the working day must end after it starts.", ErrorCode.INVALID)
    if not after["weekdays"]:
        raise DomainError.single("weekdays", "at least one weekday must be a working day.", ErrorCode.INVALID)
    await WorkingHours.filter(id=1).using_db(connection).update(**values)
    await record(scope, "working_calendar.update", "working_calendar", 1, before=before, after=after, connection=connection)


async def _save_day(scope: Scope, day: date, kind: DayKind | None, name: str, connection) -> None:
    """Make ``day`` a holiday or a make-up working day; ``kind`` None makes it an ordinary day again."""
    existing = await CalendarDay.get_or_none(day=day).using_db(connection)
    before = {"day": day, "kind": existing.kind, "name": existing.name} if existing else None
    if existing is not None:
        await CalendarDay.filter(id=existing.id).using_db(connection).delete()
    if kind is not None:
        await CalendarDay.create(day=day, kind=kind, name=name, using_db=connection)
    after = {"day": day, "kind": kind, "name": name} if kind else None
    await record(scope, "working_calendar.set_day", "working_calendar", 1, before=before, after=after, connection=connection)


def _targets_fit(calendar: WorkingCalendar, policies: dict[Priority, dict[str, Any]], field: str) -> None:
    """Refuse a calendar and policies in which a working-time target could never come due."""
    now = datetime.now(UTC)
    for priority, policy in policies.items():
        if policy["working_time"] and SlaClock(calendar).due(now, policy["resolution_minutes"] * 60) is None:
            raise DomainError.single(
                field, f"the {priority.name} resolution target needs more working time than this calendar has in "
                "ten years: give the calendar more working hours or the policy a shorter target.", ErrorCode.INVALID,
            )


@requires("complaint.configure")
async def update_working_calendar(scope: Scope, hours: dict[str, Any], days: list[dict[str, Any]] = ()) -> WorkingCalendar:
    """Change the weekly hours or the time zone, and set holidays and make-up days (``days``:
    ``{day, kind, name}``, a null kind making a day ordinary again), all or nothing; the calendar after."""
    values = clean_all({"hours": lambda _: _clean_hours(hours), "days": lambda _: _clean_days(list(days))})
    async with in_transaction() as connection:
        if values["hours"]:
            await _save_hours(scope, values["hours"], connection)
        for day, kind, name in values["days"]:
            await _save_day(scope, day, kind, name, connection)
        calendar = await working_calendar(connection)
        _targets_fit(calendar, await sla_policies(connection), "weekdays" if values["hours"] else "days")
        return calendar


async def calendar_days(year: int | None = None) -> list[dict[str, Any]]:
    """The holidays and make-up days, in date order (of ``year`` alone when given)."""
    q = CalendarDay.all().order_by("day")
    if year is not None:
        q = q.filter(day__gte=date(year, 1, 1), day__lte=date(year, 12, 31))
    return await q.values("day", "kind", "name")


@requires("complaint.read")
async def policies_for(scope: Scope) -> list[dict[str, Any]]:
    """Every priority's policy, most urgent first, for a reader of complaints."""
    return list((await sla_policies()).values())


@requires("complaint.read")
async def calendar_for(scope: Scope) -> tuple[WorkingCalendar, list[dict[str, Any]]]:
    """The working calendar and its holidays and make-up days, for a reader of complaints."""
    return await working_calendar(), await calendar_days()
