"""Complaints (投诉): filed, worked through one state machine under SLA clocks, closed with a survey.

A complaint is visible where its customer is (the caller's data scope) and always to its
assignee: every statement that reads one renders ``visible``. Its clocks count under the SLA
policy of its priority when it was filed (models/service_levels.py): the first response is
due first, then the resolution; the resolution clock stops while the complaint waits on the
customer and while it is resolved, and runs again when work resumes. ``due_at`` is the
target that runs next, what the queue sorts by; the sweep (models/escalation.py) marks
breaches and escalates them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import live, notifications, surveys, timeline
from models.audit import record
from models.customers import customers_by_ids
from models.errors import DomainError, ErrorCode
from models.pagination import Page, PageArgs, SortKey, fetch_pages
from models.scope import Scope, requires
from models.service_levels import Priority, SlaClock, clock_for, sla_policies, working_calendar
from models.sql import Query, fetch
from models.timeline import EventKind
from models.validation import MAX_ID, clean_all, clean_choice, clean_text

__all__ = [
    "CATEGORIES",
    "Channel",
    "Complaint",
    "ComplaintFilter",
    "ComplaintOrder",
    "OPEN",
    "RUNNING",
    "STOPPED",
    "Status",
    "add_complaint_note",
    "allowed_moves",
    "assign_complaint",
    "assignable",
    "categories",
    "colleagues",
    "set_category",
    "complaint_by_reference",
    "complaint_counts",
    "complaints_by_ids",
    "complaints_pages",
    "count_complaints",
    "file_complaint",
    "list_complaints",
    "offered_categories",
    "queue_teams",
    "sla",
    "transition_complaint",
    "visible",
]


class Channel(str, Enum):
    PHONE = "phone"
    EMAIL = "email"
    WECHAT = "wechat"
    WEB = "web"
    STORE = "store"
    APP = "app"


class Status(str, Enum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# The one state machine: from each status, the moves allowed.
MOVES: dict[Status, tuple[Status, ...]] = {
    Status.NEW: (Status.ACKNOWLEDGED, Status.CANCELLED),
    Status.ACKNOWLEDGED: (Status.IN_PROGRESS, Status.CANCELLED),
    Status.IN_PROGRESS: (Status.WAITING_ON_CUSTOMER, Status.RESOLVED, Status.CANCELLED),
    Status.WAITING_ON_CUSTOMER: (Status.IN_PROGRESS, Status.CANCELLED),
    Status.RESOLVED: (Status.CLOSED, Status.REOPENED),
    Status.REOPENED: (Status.IN_PROGRESS, Status.CANCELLED),
    Status.CLOSED: (),
    Status.CANCELLED: (),
}
OPEN = tuple(s for s in Status if s not in (Status.RESOLVED, Status.CLOSED, Status.CANCELLED))
"""Statuses in which the business still owes the customer something."""
STOPPED = (Status.WAITING_ON_CUSTOMER, Status.RESOLVED)
"""Statuses in which the resolution clock does not run."""
RUNNING = tuple(s for s in OPEN if s not in STOPPED)
"""Open statuses in which the resolution clock runs."""

CATEGORIES = {
    "product_quality": "产品质量 Product quality", "delivery": "物流配送 Delivery", "billing": "账单发票 Billing",
    "service_attitude": "服务态度 Service attitude", "other": "其他 Other",
}
"""The categories a complaint may be filed under, until an admin configures them."""
_CATEGORY_CODE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


def in_list(members: tuple[Enum, ...]) -> str:
    """Enum members (statuses, priorities) as an SQL literal list: literals, so that the partial
    indexes of migration 0014 apply whatever plan PostgreSQL keeps."""
    return "(" + ", ".join(f"'{member.value}'" for member in members) + ")"


class ComplaintCategory(Model):
    id = fields.BigIntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    label = fields.CharField(max_length=100)
    active = fields.BooleanField(default=True)

    class Meta:
        table = "complaint_category"


class ComplaintSequence(Model):
    """The last reference number handed out in a year."""

    year = fields.IntField(primary_key=True, generated=False)
    last_number = fields.BigIntField()

    class Meta:
        table = "complaint_sequence"


class Complaint(Model):
    id = fields.BigIntField(primary_key=True)
    reference = fields.CharField(max_length=20, unique=True)
    customer = fields.ForeignKeyField("models.Customer", related_name="complaints", on_delete=fields.RESTRICT)
    order = fields.ForeignKeyField("models.Order", related_name="complaints", null=True, on_delete=fields.SET_NULL)
    subject = fields.CharField(max_length=200)
    description = fields.TextField()
    channel = fields.CharEnumField(Channel, max_length=8)
    category = fields.CharField(max_length=32)
    priority = fields.CharEnumField(Priority, max_length=8)
    urgency = fields.SmallIntField()  # the priority's rank, stored so that "most urgent first" reads an index
    status = fields.CharEnumField(Status, max_length=24, default=Status.NEW)
    assignee = fields.ForeignKeyField("models.User", related_name="assigned_complaints", null=True, on_delete=fields.SET_NULL)
    team = fields.ForeignKeyField("models.Team", related_name="complaints", null=True, on_delete=fields.SET_NULL)
    filed_by = fields.ForeignKeyField("models.User", related_name="filed_complaints", null=True, on_delete=fields.SET_NULL)
    escalation_level = fields.SmallIntField(default=0)
    working_time = fields.BooleanField(default=False)
    first_response_minutes = fields.IntField()
    resolution_minutes = fields.IntField()
    first_response_due_at = fields.DatetimeField()
    resolution_due_at = fields.DatetimeField()
    due_at = fields.DatetimeField()
    paused_at = fields.DatetimeField(null=True)
    paused_seconds = fields.BigIntField(default=0)
    first_response_breached = fields.BooleanField(default=False)
    resolution_breached = fields.BooleanField(default=False)
    first_responded_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    resolution_note = fields.TextField(null=True)
    survey_issued_at = fields.DatetimeField(null=True)
    survey_token_hash = fields.CharField(max_length=64, null=True, unique=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "complaint"
        indexes = (
            ("customer_id", "created_at", "id"), ("assignee_id", "status"), ("team_id", "status"), ("created_at", "id"),
            ("due_at", "id"),  # any list by due time, closed ones included (the breached list)
        )
        # The queue's and the sweep's partial indexes: migration 0014.


COLUMNS = (
    "id", "reference", "customer_id", "order_id", "subject", "description", "channel", "category", "priority",
    "urgency", "status", "assignee_id", "team_id", "filed_by_id", "escalation_level", "working_time",
    "first_response_minutes", "resolution_minutes", "first_response_due_at", "resolution_due_at", "due_at",
    "paused_at", "paused_seconds", "first_response_breached", "resolution_breached", "first_responded_at",
    "resolved_at", "closed_at", "resolution_note", "survey_issued_at", "created_at", "updated_at",
)
_SELECT = ", ".join(f"k.{column}" for column in COLUMNS)
_BOOLEANS = ("working_time", "first_response_breached", "resolution_breached")


def _row(row: dict[str, Any]) -> dict[str, Any]:
    """A fetched row with SQLite's 0/1 as booleans."""
    for name in _BOOLEANS:
        if name in row:
            row[name] = bool(row[name])
    return row


def visible(scope: Scope, q: Query, alias: str = "k", customer: str = "c") -> str:
    """The condition "complaint ``alias`` is visible": its customer ``customer`` is, or the caller is its assignee."""
    scope.require("complaint.read")
    if scope.system:
        return f"{customer}.deleted_at IS NULL"
    assigned = f"{alias}.assignee_id = {q.param(scope.viewer.user_id)}"
    if not scope.can("customer.read"):
        return assigned
    return f"({scope.customers(q, customer)} OR {assigned})"


def allowed_moves(status: Status) -> tuple[Status, ...]:
    return MOVES[Status(status)]


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Sla:
    first_response_due_at: datetime
    resolution_due_at: datetime
    first_response_breached: bool
    resolution_breached: bool
    time_left_seconds: int | None
    paused: bool


def sla(row: dict[str, Any], clock: SlaClock, at: datetime | None = None) -> Sla:
    """A complaint's clocks at ``at`` (now): due times, breaches, time left of the target that runs."""
    at = at or now()
    status = Status(row["status"])
    is_open = status in OPEN
    first_pending = row["first_responded_at"] is None and is_open
    resolution_running = is_open and status not in STOPPED and row["resolved_at"] is None
    first_breached = bool(row["first_response_breached"]) or (
        row["first_responded_at"] > row["first_response_due_at"] if row["first_responded_at"] else first_pending and at > row["first_response_due_at"]
    )
    resolution_breached = bool(row["resolution_breached"]) or (resolution_running and at > row["resolution_due_at"])
    if first_pending:
        left = clock.left(at, row["first_response_due_at"])
    elif resolution_running:
        left = clock.left(at, row["resolution_due_at"])
    else:
        left = None
    return Sla(
        first_response_due_at=row["first_response_due_at"],
        resolution_due_at=row["resolution_due_at"],
        first_response_breached=first_breached,
        resolution_breached=resolution_breached,
        time_left_seconds=left,
        paused=status is Status.WAITING_ON_CUSTOMER,
    )


# Filing

async def categories(connection=None, *, inactive: bool = False) -> list[dict[str, Any]]:
    """The active categories (``inactive``: all), in the order configured; the defaults until an admin sets some."""
    if not await ComplaintCategory.all().using_db(connection).exists():
        return [{"code": code, "label": label, "active": True} for code, label in CATEGORIES.items()]
    rows = ComplaintCategory.all() if inactive else ComplaintCategory.filter(active=True)
    return await rows.using_db(connection).order_by("id").values("code", "label", "active")


@requires("complaint.read")
async def offered_categories(scope: Scope) -> list[dict[str, Any]]:
    """The categories a complaint may be filed under, for a reader of complaints."""
    return await categories()


@requires("complaint.configure")
async def set_category(scope: Scope, code: Any, label: Any, active: bool = True) -> list[dict[str, Any]]:
    """Add a category, or relabel, retire (``active`` false) or restore one; every category after.

    Codes stay once used (complaints keep theirs): a category is retired, never deleted.
    """
    code = clean_text(code, "code", max_length=32, required=True).lower()
    if not _CATEGORY_CODE.match(code):
        raise DomainError.single("code", "code is 2 to 32 lower-case letters, digits or _, starting with a letter.", ErrorCode.INVALID)
    label = clean_text(label, "label", max_length=100, required=True)
    async with in_transaction() as connection:
        if not await ComplaintCategory.all().using_db(connection).exists():  # the defaults become editable rows
            await ComplaintCategory.bulk_create(
                [ComplaintCategory(code=c, label=text) for c, text in CATEGORIES.items()], using_db=connection
            )
        existing = await ComplaintCategory.get_or_none(code=code).using_db(connection)
        before = {"code": code, "label": existing.label, "active": existing.active} if existing else None
        if existing is None:
            await ComplaintCategory.create(code=code, label=label, active=active, using_db=connection)
        else:
            await ComplaintCategory.filter(id=existing.id).using_db(connection).update(label=label, active=active)
        if not await ComplaintCategory.filter(active=True).using_db(connection).exists():
            raise DomainError.single("active", "at least one category must stay active.", ErrorCode.INVALID)
        await record(scope, "complaint_category.set", "complaint_category", None, before=before,
                     after={"code": code, "label": label, "active": active}, connection=connection)
        return await categories(connection, inactive=True)


async def _category(value: Any, connection) -> str:
    code = clean_text(value, "category", max_length=32, required=True).lower()
    known = [row["code"] for row in await categories(connection)]
    if code not in known:
        raise DomainError.single("category", f"category must be one of {', '.join(known)}.", ErrorCode.INVALID)
    return code


async def _next_reference(at: datetime, timezone: str) -> str:
    """``KH-<year>-<n>``: the year's (in ``timezone``) next number, one row updated under its lock
    (no gaps in a committed year except rolled-back filings, no number twice)."""
    year = at.astimezone(ZoneInfo(timezone)).year
    q = Query()
    rows = await fetch(
        f"INSERT INTO complaint_sequence (year, last_number) VALUES ({q.param(year)}, 1)"
        " ON CONFLICT (year) DO UPDATE SET last_number = complaint_sequence.last_number + 1 RETURNING last_number",
        q,
    )
    return f"KH-{year}-{rows[0]['last_number']:06d}"


async def _order_of(customer_id: int, order_id: int | None) -> int | None:
    if order_id is None:
        return None
    q = Query()
    rows = await fetch(
        f"SELECT id FROM orders WHERE id = {q.param(order_id)} AND customer_id = {q.param(customer_id)}", q
    )
    if not rows:
        raise DomainError.single("orderId", "no such order of this customer.", ErrorCode.NOT_FOUND)
    return order_id


@requires("complaint.create", "customer.read")
async def file_complaint(scope: Scope, customer_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """File a complaint about a visible customer, under the SLA policy of its priority."""
    values = clean_all({
        "subject": lambda _: clean_text(data.get("subject"), "subject", max_length=200, required=True),
        "description": lambda _: clean_text(data.get("description"), "description", max_length=10_000, required=True, multiline=True),
        "channel": lambda _: clean_choice(data.get("channel"), Channel, "channel", required=True),
        "priority": lambda _: clean_choice(data.get("priority"), Priority, "priority") or Priority.NORMAL,
    })
    order_id = data.get("order_id")
    if order_id is not None and not 0 < order_id <= MAX_ID:
        raise DomainError.single("orderId", "no such order of this customer.", ErrorCode.NOT_FOUND)
    async with in_transaction() as connection:
        customer = (await customers_by_ids(scope, [customer_id], ("id", "team_id"))).get(customer_id)
        if customer is None:
            raise DomainError.single("customerId", "no such customer.", ErrorCode.NOT_FOUND)
        values["category"] = await _category(data.get("category"), connection)
        values["order_id"] = await _order_of(customer_id, order_id)
        policy = (await sla_policies(connection))[values["priority"]]
        calendar = await working_calendar(connection)  # read once: the clock's and the reference's year
        clock = SlaClock(calendar if policy["working_time"] else None)
        at = now()
        first_due = clock.add(at, policy["first_response_minutes"] * 60)
        complaint = await Complaint.create(
            using_db=connection,
            reference=await _next_reference(at, calendar.timezone),
            customer_id=customer_id,
            urgency=values["priority"].rank,
            team_id=customer["team_id"] if customer["team_id"] is not None else scope.owner().get("team_id"),
            filed_by_id=scope.viewer.user_id if scope.viewer else None,
            working_time=policy["working_time"],
            first_response_minutes=policy["first_response_minutes"],
            resolution_minutes=policy["resolution_minutes"],
            first_response_due_at=first_due,
            resolution_due_at=clock.add(at, policy["resolution_minutes"] * 60),
            due_at=first_due,
            created_at=at,
            updated_at=at,
            **values,
        )
        await timeline.append(connection, scope, complaint.id, EventKind.FILED, at, to_status=Status.NEW.value,
                              data={"channel": values["channel"].value, "priority": values["priority"].value})
        row = _as_row(complaint)
        await record(scope, "complaint.file", "complaint", complaint.id, after=_audited(row), connection=connection,
                     customer_id=customer_id)
        await live.announce(connection, complaint.id, complaint.team_id)
    return row


def _as_row(complaint: Complaint) -> dict[str, Any]:
    return {column: getattr(complaint, column) for column in COLUMNS}


_AUDITED = ("status", "priority", "category", "channel", "assignee_id", "team_id", "order_id", "escalation_level",
            "first_responded_at", "resolved_at", "closed_at", "reference")


def _audited(row: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of a complaint: its state, not the customer's words."""
    return {key: row[key] for key in _AUDITED if key in row}


# Working a complaint

async def _locked(scope: Scope, complaint_id: int) -> dict[str, Any]:
    """The complaint, visible to the caller, locked until the transaction ends (PostgreSQL)."""
    q = Query()
    lock = " FOR UPDATE OF k" if q.dialect != "sqlite" else ""
    rows = await fetch(f"SELECT {_SELECT} FROM {_base(scope, q)} AND k.id = {q.param(complaint_id)}{lock}", q, Complaint)
    if not rows:
        raise DomainError.single("id", "no such complaint.", ErrorCode.NOT_FOUND)
    return _row(rows[0])


async def _save(connection, complaint_id: int, before: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    after = before | changes
    after["due_at"] = after["first_response_due_at"] if after["first_responded_at"] is None else after["resolution_due_at"]
    after["updated_at"] = changes.get("updated_at") or now()
    stored = {key: after[key] for key in (*changes, "due_at", "updated_at")}
    await Complaint.filter(id=complaint_id).using_db(connection).update(**stored)
    return after


def _invalid_move(current: Status, to: Status) -> DomainError:
    allowed = MOVES[current]
    now_allowed = ", ".join(s.name for s in allowed) if allowed else "none (it is final)"
    return DomainError.single(
        "to", f"a {current.name} complaint cannot move to {to.name}; allowed now: {now_allowed}.", ErrorCode.INVALID_TRANSITION,
    )


def _first_response(row: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The changes that record the first response at ``at``, if none was recorded yet."""
    if row["first_responded_at"] is not None:
        return {}
    return {"first_responded_at": at, "first_response_breached": row["first_response_breached"] or at > row["first_response_due_at"]}


@requires("complaint.handle")
async def transition_complaint(scope: Scope, complaint_id: int, to: Any, note: str | None = None) -> dict[str, Any]:
    """Move a complaint to ``to`` if the state machine allows it from where it is now."""
    to = clean_choice(to, Status, "to", required=True)
    note = clean_text(note, "note", max_length=10_000, multiline=True)
    async with in_transaction() as connection:
        row = await _locked(scope, complaint_id)
        current = Status(row["status"])
        if to not in MOVES[current]:
            raise _invalid_move(current, to)
        if to is Status.RESOLVED and not note:
            raise DomainError.single("note", "resolving needs a resolution note: what was done.", ErrorCode.REQUIRED)
        at = now()
        changes: dict[str, Any] = {"status": to, **_first_response(row, at)}
        if current in STOPPED and to not in STOPPED and to is not Status.CLOSED and to is not Status.CANCELLED:
            clock = await clock_for(row["working_time"], connection)
            paused = row["paused_seconds"] + round(clock.between(row["paused_at"], at))
            changes |= {
                "paused_at": None, "paused_seconds": paused,
                "resolution_due_at": clock.add(row["created_at"], row["resolution_minutes"] * 60 + paused),
            }
        if to in STOPPED and row["paused_at"] is None:
            changes["paused_at"] = at
        if to is Status.RESOLVED:
            changes |= {"resolved_at": at, "resolution_note": note,
                        "resolution_breached": row["resolution_breached"] or at > row["resolution_due_at"]}
        elif to is Status.REOPENED:
            changes["resolved_at"] = None
        elif to in (Status.CLOSED, Status.CANCELLED):
            changes["closed_at"] = at
        if to is Status.CLOSED:
            changes |= {"survey_issued_at": at, "survey_token_hash": surveys.token_hash(complaint_id, at)}
        changes["updated_at"] = at
        after = await _save(connection, complaint_id, row, changes)
        await timeline.append(connection, scope, complaint_id, EventKind.STATUS_CHANGED, at,
                              from_status=current.value, to_status=to.value, body=note)
        await record(scope, f"complaint.{to.value}", "complaint", complaint_id, before=_audited(row),
                     after=_audited(after), connection=connection, customer_id=row["customer_id"])
        await live.announce(connection, complaint_id, row["team_id"])
    return after


async def _handlers(team_id: int | None, user_ids: list[int] | None = None) -> list[int]:
    """The active staff (of ``team_id``, or among ``user_ids``) who hold complaint.handle."""
    q = Query()
    where = f"u.id IN {q.in_list(user_ids)}" if user_ids is not None else f"u.team_id = {q.param(team_id)}"
    rows = await fetch(
        "SELECT u.id, u.is_superuser, r.permissions FROM staff_user u"
        " LEFT JOIN user_role ur ON ur.staff_user_id = u.id LEFT JOIN role r ON r.id = ur.role_id"
        f" WHERE {where} AND u.is_active",
        q,
    )
    handlers = set()
    for row in rows:
        permissions = row["permissions"]
        if isinstance(permissions, str):
            permissions = json.loads(permissions)
        if row["is_superuser"] or "complaint.handle" in (permissions or ()):
            handlers.add(row["id"])
    return sorted(handlers)


async def _least_busy(scope: Scope, team_id: int | None) -> int:
    candidates = await _handlers(team_id) if team_id is not None else []
    if candidates and not scope.everywhere:  # only staff the assigner could name
        q = Query()
        rows = await fetch(f"SELECT u.id FROM staff_user u WHERE u.id IN {q.in_list(candidates)} AND {scope.users(q, 'u')}", q)
        candidates = sorted(row["id"] for row in rows)
    if not candidates:
        raise DomainError.single(
            "assigneeId", "nobody in the complaint's team within your reach can handle complaints: name the assignee.",
            ErrorCode.INVALID,
        )
    q = Query()
    rows = await fetch(
        f"SELECT assignee_id, COUNT(*) AS n FROM complaint WHERE assignee_id IN {q.in_list(candidates)}"
        f" AND status IN {in_list(OPEN)} GROUP BY assignee_id",
        q,
    )
    load = {row["assignee_id"]: row["n"] for row in rows}
    return min(candidates, key=lambda user_id: (load.get(user_id, 0), user_id))


async def _assignable(scope: Scope, user_id: int) -> int:
    q = Query()
    rows = await fetch(
        f"SELECT u.id FROM staff_user u WHERE u.id = {q.param(user_id)} AND {scope.users(q, 'u')}", q
    )
    if not rows:
        raise DomainError.single("assigneeId", "no such staff member.", ErrorCode.NOT_FOUND)
    if not await _handlers(None, [user_id]):
        raise DomainError.single(
            "assigneeId", "this staff member is inactive or does not hold complaint.handle.", ErrorCode.INVALID
        )
    return user_id


@requires("complaint.assign")
async def assign_complaint(scope: Scope, complaint_id: int, assignee_id: int | None = None) -> dict[str, Any]:
    """Give a complaint to ``assignee_id`` (staff within the caller's reach who may handle it), or,
    without one, to the member of its team holding complaint.handle with the fewest open complaints."""
    if assignee_id is not None and not 0 < assignee_id <= MAX_ID:
        raise DomainError.single("assigneeId", "no such staff member.", ErrorCode.NOT_FOUND)
    async with in_transaction() as connection:
        row = await _locked(scope, complaint_id)
        if Status(row["status"]) not in OPEN:
            raise DomainError.single("id", f"a {Status(row['status']).name} complaint is not assigned any more.", ErrorCode.INVALID)
        chosen = await (_assignable(scope, assignee_id) if assignee_id is not None else _least_busy(scope, row["team_id"]))
        at = now()
        after = await _save(connection, complaint_id, row, {"assignee_id": chosen, "updated_at": at})
        await timeline.append(connection, scope, complaint_id, EventKind.ASSIGNED, at,
                              data={"assignee_id": chosen, "automatic": assignee_id is None})
        await record(scope, "complaint.assign", "complaint", complaint_id, before=_audited(row), after=_audited(after),
                     connection=connection, customer_id=row["customer_id"])
        if scope.viewer is None or chosen != scope.viewer.user_id:
            await notifications.notify(connection, [chosen], notifications.Kind.ASSIGNED, complaint_id, at)
        await live.announce(connection, complaint_id, row["team_id"])
    return after


@requires("complaint.handle")
async def add_complaint_note(scope: Scope, complaint_id: int, body: Any, internal: bool = True) -> dict[str, Any]:
    """An internal note, or a reply to the customer (which is a first response, if none came before)."""
    body = clean_text(body, "body", max_length=10_000, required=True, multiline=True)
    async with in_transaction() as connection:
        row = await _locked(scope, complaint_id)
        if Status(row["status"]) in (Status.CLOSED, Status.CANCELLED) and not internal:
            raise DomainError.single("internal", "a closed complaint takes internal notes only.", ErrorCode.INVALID)
        at = now()
        changes = {} if internal else _first_response(row, at)
        after = await _save(connection, complaint_id, row, {**changes, "updated_at": at})
        kind = EventKind.NOTE if internal else EventKind.REPLY
        await timeline.append(connection, scope, complaint_id, kind, at, body=body)
        await record(scope, f"complaint.{kind.value}", "complaint", complaint_id, before=_audited(row),
                     after=_audited(after), connection=connection, customer_id=row["customer_id"])
        await live.announce(connection, complaint_id, row["team_id"])
    return after


# Reads

class ComplaintOrder(str, Enum):
    DUE_AT = "due_at"
    CREATED_AT = "created_at"
    PRIORITY = "priority"


_KEYS = {
    ComplaintOrder.DUE_AT: SortKey("k.due_at", "datetime", descending=False),
    ComplaintOrder.CREATED_AT: SortKey("k.created_at", "datetime", descending=True),
    ComplaintOrder.PRIORITY: SortKey("k.urgency", "int", descending=True),
}


def breached(q: Query, at: datetime) -> str:
    """The condition "complaint ``k`` missed a target, or is past one now" (the sweep marks within a minute)."""
    moment = q.param(at)
    return (
        f"(k.first_response_breached OR k.resolution_breached OR (k.status IN {in_list(OPEN)} AND ("
        f"(k.first_responded_at IS NULL AND k.first_response_due_at < {moment})"
        f" OR (k.status IN {in_list(RUNNING)} AND k.resolution_due_at < {moment}))))"
    )


@dataclass(frozen=True)
class ComplaintFilter:
    statuses: tuple[Status, ...] = ()
    priorities: tuple[Priority, ...] = ()
    assignee_id: int | None = None
    unassigned: bool = False
    team_id: int | None = None
    customer_id: int | None = None
    breached: bool | None = None
    escalated: bool | None = None
    search: str | None = None

    def where(self, q: Query) -> list[str]:
        conditions = []
        # Statuses and priorities are literals (members of their enums), so that a plan PostgreSQL
        # keeps for the statement still sees which partial index applies.
        if self.statuses:
            conditions.append(f"k.status IN {in_list(tuple(Status(s) for s in self.statuses))}")
        if self.priorities:
            conditions.append(f"k.priority IN {in_list(tuple(Priority(p) for p in self.priorities))}")
        if self.assignee_id is not None:
            conditions.append(f"k.assignee_id = {q.param(self.assignee_id)}")
        if self.unassigned:
            conditions.append("k.assignee_id IS NULL")
        if self.team_id is not None:
            conditions.append(f"k.team_id = {q.param(self.team_id)}")
        if self.customer_id is not None:
            conditions.append(f"k.customer_id = {q.param(self.customer_id)}")
        if self.breached is not None:
            condition = breached(q, now())
            conditions.append(condition if self.breached else f"NOT {condition}")
        if self.escalated is not None:
            conditions.append("k.escalation_level > 0" if self.escalated else "k.escalation_level = 0")
        if self.search:
            text = clean_text(self.search, "search", max_length=200)
            if text:
                pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                conditions.append(
                    f"(k.reference = {q.param(text.upper())} OR LOWER(k.subject) LIKE {q.param(pattern)} ESCAPE '\\')"
                )
        return conditions


def _base(scope: Scope, q: Query) -> str:
    return f"complaint k JOIN customer c ON c.id = k.customer_id WHERE {visible(scope, q)}"


async def list_complaints(scope: Scope, filter: ComplaintFilter, order: ComplaintOrder, args: PageArgs) -> Page:
    """Complaints the caller sees, filtered, in ``order`` (due first, newest first, or most urgent first)."""
    args = args.checked()
    key = _KEYS[ComplaintOrder(order)]
    q = Query()
    conditions = [_base(scope, q), *filter.where(q)]
    if (keyset := args.keyset_condition(key, q, "k")) is not None:
        conditions.append(keyset)
    sql = f"SELECT {_SELECT} FROM {' AND '.join(conditions)} ORDER BY {args.order_by(key, 'k')} LIMIT {args.size + 1}"
    rows = [_row(row) for row in await fetch(sql, q, Complaint)]
    return Page.from_rows(rows, args, key)


async def count_complaints(scope: Scope, filter: ComplaintFilter) -> int:
    q = Query()
    rows = await fetch(f"SELECT COUNT(*) AS n FROM {' AND '.join([_base(scope, q), *filter.where(q)])}", q)
    return rows[0]["n"]


async def complaints_by_ids(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Complaints by id, those the caller may not see left out."""
    if not ids:
        return {}
    q = Query()
    sql = f"SELECT {_SELECT} FROM {_base(scope, q)} AND k.id IN {q.in_list(ids)}"
    return {row["id"]: _row(row) for row in await fetch(sql, q, Complaint)}


async def complaint_by_reference(scope: Scope, reference: str) -> dict[str, Any] | None:
    text = clean_text(reference, "reference", max_length=20, required=True).upper()
    q = Query()
    rows = await fetch(f"SELECT {_SELECT} FROM {_base(scope, q)} AND k.reference = {q.param(text)}", q, Complaint)
    return _row(rows[0]) if rows else None


_CUSTOMER_KEY = SortKey("k.created_at", "datetime", descending=True)


async def complaints_pages(scope: Scope, customer_ids: list[int], args: PageArgs) -> dict[int, Page]:
    """Each customer's complaints, newest first (none to a reader of customers without complaint.read)."""
    if not scope.can("complaint.read"):
        return {customer_id: Page.from_rows([], args.checked(), _CUSTOMER_KEY) for customer_id in customer_ids}
    q = Query()
    pages = await fetch_pages(
        q, customer_ids, select=_SELECT, source=f"{_base(scope, q)} AND k.customer_id IN {q.in_list(customer_ids)}",
        parent="k.customer_id", key=_CUSTOMER_KEY, args=args, model=Complaint,
    )
    for page in pages.values():
        page.rows = [_row(row) for row in page.rows]
    return pages


async def complaint_counts(scope: Scope, customer_ids: list[int]) -> dict[int, int]:
    if not scope.can("complaint.read"):
        return {}
    q = Query()
    sql = (
        f"SELECT k.customer_id AS parent, COUNT(*) AS n FROM {_base(scope, q)}"
        f" AND k.customer_id IN {q.in_list(customer_ids)} GROUP BY k.customer_id"
    )
    return {row["parent"]: row["n"] for row in await fetch(sql, q)}



async def colleagues(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Who is assigned or acted on complaints, named for a reader of complaints: id and name, no more."""
    if not scope.can("complaint.read") or not ids:
        return {}
    q = Query()
    rows = await fetch(f"SELECT id, display_name FROM staff_user WHERE id IN {q.in_list(ids)}", q)
    return {row["id"]: row for row in rows}


@requires("complaint.assign")
async def assignable(scope: Scope) -> list[dict[str, Any]]:
    """Staff the caller may give complaints to: active, within its reach, holding complaint.handle."""
    q = Query()
    rows = await fetch(f"SELECT u.id FROM staff_user u WHERE u.is_active AND {scope.users(q, 'u')}", q)
    ids = await _handlers(None, [row["id"] for row in rows]) if rows else []
    q = Query()
    if not ids:
        return []
    return await fetch(
        f"SELECT id, display_name, team_id FROM staff_user WHERE id IN {q.in_list(ids)} ORDER BY display_name, id", q
    )


@requires("complaint.read")
async def queue_teams(scope: Scope) -> list[dict[str, Any]]:
    """The teams whose queues the caller may filter by: those it reaches (all with ALL scope)."""
    q = Query()
    return await fetch(f"SELECT t.id, t.name FROM team t WHERE {scope.teams(q, 't.id')} ORDER BY t.name, t.id LIMIT 1000", q)
