"""Follow-ups (定期跟踪): who calls which customer by when, and what came of it.

When one is done for a customer whose tier calls for regular care (VIP every 30 days, ACTIVE
every 90), the next is scheduled for the same person and purpose.

A follow-up is read where its customer is visible, like the customer's interactions.
Completing one logs the interaction it was, with its outcome, in the same transaction; the
follow-up keeps the interaction's id. Scheduling names an assignee within the scheduler's
reach (oneself by default) who is active.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any, ClassVar

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.audit import record
from models.customers import customers_by_ids
from models.errors import DomainError, ErrorCode
from models.interactions import InteractionKind, log_interaction
from models.pagination import Page, PageArgs, SortKey, fetch_pages
from models.scope import Scope, requires
from models.settings import bounded, current
from models.sql import Query, fetch
from models.validation import MAX_ID, clean_choice, clean_text

__all__ = [
    "FollowUp",
    "Recurrence",
    "FollowUpStatus",
    "cancel_follow_up",
    "complete_follow_up",
    "count_my_follow_ups",
    "follow_up_counts",
    "follow_ups_by_ids",
    "follow_up_assignees",
    "follow_ups_pages",
    "my_follow_ups",
    "reschedule_follow_up",
    "schedule_follow_up",
]

MAX_AHEAD = timedelta(days=5 * 366)


@dataclass(frozen=True)
class Recurrence:
    """Days to the next follow-up when one is done, by the customer's tier (None: no next one)."""

    KEY: ClassVar[str] = "follow_ups"
    vip_days: int | None = bounded(30, 1, 3660, "Days to a VIP customer's next follow-up when one is done (empty: none)", optional=True)
    active_days: int | None = bounded(90, 1, 3660, "Days to an ACTIVE customer's next follow-up when one is done (empty: none)", optional=True)
    potential_days: int | None = bounded(None, 1, 3660, "Days to a POTENTIAL customer's next follow-up when one is done (empty: none)", optional=True)
    dormant_days: int | None = bounded(None, 1, 3660, "Days to a DORMANT customer's next follow-up when one is done (empty: none)", optional=True)

    def problems(self) -> list[tuple[str, str]]:
        return []


class FollowUpStatus(str, Enum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class FollowUp(Model):
    id = fields.BigIntField(primary_key=True)
    customer = fields.ForeignKeyField("models.Customer", related_name="follow_ups", on_delete=fields.CASCADE)
    assignee = fields.ForeignKeyField("models.User", related_name="follow_ups", on_delete=fields.RESTRICT)
    due_on = fields.DateField()
    purpose = fields.CharField(max_length=500)
    status = fields.CharEnumField(FollowUpStatus, max_length=10, default=FollowUpStatus.OPEN)
    outcome = fields.TextField(null=True)
    interaction = fields.ForeignKeyField("models.Interaction", related_name="follow_up", null=True, on_delete=fields.SET_NULL)
    created_by = fields.ForeignKeyField("models.User", related_name="scheduled_follow_ups", null=True, on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField(auto_now_add=True)
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "follow_up"
        indexes = (("assignee_id", "status", "due_on", "id"), ("customer_id", "due_on", "id"))


COLUMNS = (
    "id", "customer_id", "assignee_id", "due_on", "purpose", "status", "outcome", "interaction_id", "created_by_id",
    "created_at", "closed_at",
)
_SELECT = ", ".join(f"f.{column}" for column in COLUMNS)


def _row(follow_up: FollowUp) -> dict[str, Any]:
    return {column: getattr(follow_up, column) for column in COLUMNS}


def _due_on(value: Any, today: date) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value))
        except ValueError:
            raise DomainError.single("dueOn", "dueOn must be a date such as 2026-12-24.", ErrorCode.INVALID) from None
    if not today - timedelta(days=1) <= value <= today + MAX_AHEAD:
        raise DomainError.single("dueOn", "dueOn must be from today to five years ahead.", ErrorCode.INVALID)
    return value


async def _assignee(scope: Scope, user_id: int | None) -> int:
    if user_id is None:
        return scope.viewer.user_id
    q = Query()
    found = 0 < user_id <= MAX_ID and await fetch(
        f"SELECT u.id FROM staff_user u WHERE u.id = {q.param(user_id)} AND u.is_active AND {scope.users(q, 'u')}", q,
    )
    if not found:
        raise DomainError.single("assigneeId", "no such active staff member.", ErrorCode.NOT_FOUND)
    return user_id


@requires("interaction.create", "customer.read")
async def schedule_follow_up(
    scope: Scope, customer_id: int, data: dict[str, Any], assignee_id: int | None = None
) -> dict[str, Any]:
    """A follow-up of a visible customer, for ``assignee_id`` (within reach) or the caller."""
    today = datetime.now(UTC).date()
    due_on = _due_on(data.get("due_on"), today)
    purpose = clean_text(data.get("purpose"), "purpose", max_length=500, required=True, multiline=True)
    async with in_transaction() as connection:
        if customer_id not in await customers_by_ids(scope, [customer_id], ("id",)):
            raise DomainError.single("customerId", "no such customer.", ErrorCode.NOT_FOUND)
        assignee = await _assignee(scope, assignee_id)
        follow_up = await FollowUp.create(
            customer_id=customer_id, assignee_id=assignee, due_on=due_on, purpose=purpose,
            created_by_id=scope.viewer.user_id if scope.viewer else None, using_db=connection,
        )
        row = _row(follow_up)
        await record(scope, "follow_up.schedule", "follow_up", follow_up.id, after=_audited(row), connection=connection,
                     customer_id=customer_id)
    return row


def _audited(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in ("customer_id", "assignee_id", "due_on", "status", "interaction_id")}


async def _open(scope: Scope, follow_up_id: int) -> dict[str, Any]:
    """The follow-up, of a visible customer, still open; locked until the transaction ends (PostgreSQL)."""
    q = Query()
    lock = " FOR UPDATE OF f" if q.dialect != "sqlite" else ""
    rows = await fetch(
        f"SELECT {_SELECT} FROM follow_up f JOIN customer c ON c.id = f.customer_id"
        f" WHERE f.id = {q.param(follow_up_id)} AND {scope.customers(q, 'c')}{lock}", q, FollowUp,
    )
    if not rows:
        raise DomainError.single("id", "no such follow-up.", ErrorCode.NOT_FOUND)
    if rows[0]["status"] != FollowUpStatus.OPEN.value:
        raise DomainError.single("id", f"this follow-up is {rows[0]['status']} already.", ErrorCode.INVALID)
    return rows[0]


@requires("interaction.create", "customer.read")
async def complete_follow_up(scope: Scope, follow_up_id: int, outcome: Any, kind: Any = None) -> dict[str, Any]:
    """Done, with what came of it: logs the interaction (a call unless ``kind`` says otherwise).
    The row answered carries ``next_due_on``: when the next follow-up its recurrence made is due (or None)."""
    outcome = clean_text(outcome, "outcome", max_length=500, required=True, multiline=True)
    kind = clean_choice(kind, InteractionKind, "kind") or InteractionKind.CALL
    async with in_transaction() as connection:
        row = await _open(scope, follow_up_id)
        interaction = await log_interaction(scope, row["customer_id"], {
            "kind": kind, "direction": "outbound", "summary": row["purpose"], "outcome": outcome,
        })
        changes = {"status": FollowUpStatus.DONE, "outcome": outcome, "interaction_id": interaction["id"],
                   "closed_at": datetime.now(UTC)}
        await FollowUp.filter(id=follow_up_id).using_db(connection).update(**changes)
        after = row | changes
        await record(scope, "follow_up.complete", "follow_up", follow_up_id, before=_audited(row), after=_audited(after),
                     connection=connection, customer_id=row["customer_id"])
        next_due_on = await _recur(scope, row, connection)
    return after | {"next_due_on": next_due_on}


async def _recur(scope: Scope, done: dict[str, Any], connection) -> date | None:
    """The next follow-up of a customer whose tier calls for regular care (``Recurrence``): its due day."""
    q = Query()
    rows = await fetch(f"SELECT tier FROM customer_segment WHERE customer_id = {q.param(done['customer_id'])}", q)
    days = getattr(await current(Recurrence), f"{rows[0]['tier']}_days") if rows else None
    if days is None:
        return None
    follow_up = await FollowUp.create(
        customer_id=done["customer_id"], assignee_id=done["assignee_id"], purpose=done["purpose"],
        due_on=datetime.now(UTC).date() + timedelta(days=days),
        created_by_id=scope.viewer.user_id if scope.viewer else None, using_db=connection,
    )
    await record(scope, "follow_up.schedule", "follow_up", follow_up.id, after=_audited(_row(follow_up)),
                 connection=connection, customer_id=done["customer_id"])
    return follow_up.due_on


@requires("interaction.create", "customer.read")
async def cancel_follow_up(scope: Scope, follow_up_id: int) -> dict[str, Any]:
    async with in_transaction() as connection:
        row = await _open(scope, follow_up_id)
        changes = {"status": FollowUpStatus.CANCELLED, "closed_at": datetime.now(UTC)}
        await FollowUp.filter(id=follow_up_id).using_db(connection).update(**changes)
        after = row | changes
        await record(scope, "follow_up.cancel", "follow_up", follow_up_id, before=_audited(row), after=_audited(after),
                     connection=connection, customer_id=row["customer_id"])
    return after


@requires("interaction.create", "customer.read")
async def reschedule_follow_up(
    scope: Scope, follow_up_id: int, due_on: Any = None, assignee_id: int | None = None
) -> dict[str, Any]:
    """An open follow-up snoozed to ``due_on``, or handed to ``assignee_id`` (within reach), or both."""
    if due_on is None and assignee_id is None:
        raise DomainError.single(None, "give a new dueOn, a new assigneeId, or both.", ErrorCode.INVALID)
    changes: dict[str, Any] = {}
    if due_on is not None:
        changes["due_on"] = _due_on(due_on, datetime.now(UTC).date())
    async with in_transaction() as connection:
        row = await _open(scope, follow_up_id)
        if assignee_id is not None:
            changes["assignee_id"] = await _assignee(scope, assignee_id)
        await FollowUp.filter(id=follow_up_id).using_db(connection).update(**changes)
        after = row | changes
        await record(scope, "follow_up.reschedule", "follow_up", follow_up_id, before=_audited(row), after=_audited(after),
                     connection=connection, customer_id=row["customer_id"])
    return after


@requires("interaction.create", "customer.read")
async def follow_up_assignees(scope: Scope) -> list[dict[str, Any]]:
    """Whom the caller may give a follow-up to: active staff within its reach (itself at least), by name."""
    q = Query()
    return await fetch(
        f"SELECT u.id, u.display_name FROM staff_user u WHERE u.is_active AND {scope.users(q, 'u')}"
        " ORDER BY u.display_name, u.id LIMIT 1000", q,
    )


_DUE = SortKey("f.due_on", "date", descending=False)


def _mine(scope: Scope, q: Query, due_before: date | None) -> list[str]:
    conditions = [
        f"f.assignee_id = {q.param(scope.viewer.user_id)}", f"f.status = '{FollowUpStatus.OPEN.value}'",
        scope.customers(q, "c"),
    ]
    if due_before is not None:
        conditions.append(f"f.due_on < {q.param(due_before)}")
    return conditions


@requires("customer.read")
async def my_follow_ups(scope: Scope, args: PageArgs, due_before: date | None = None) -> Page:
    """The caller's open follow-ups of customers it sees, overdue ones first (by due date)."""
    args = args.checked()
    q = Query()
    conditions = _mine(scope, q, due_before)
    if (keyset := args.keyset_condition(_DUE, q, "f")) is not None:
        conditions.append(keyset)
    sql = (
        f"SELECT {_SELECT} FROM follow_up f JOIN customer c ON c.id = f.customer_id WHERE {' AND '.join(conditions)}"
        f" ORDER BY {args.order_by(_DUE, 'f')} LIMIT {args.size + 1}"
    )
    return Page.from_rows(await fetch(sql, q, FollowUp), args, _DUE)


@requires("customer.read")
async def count_my_follow_ups(scope: Scope, due_before: date | None = None) -> int:
    q = Query()
    sql = f"SELECT COUNT(*) AS n FROM follow_up f JOIN customer c ON c.id = f.customer_id WHERE {' AND '.join(_mine(scope, q, due_before))}"
    return (await fetch(sql, q))[0]["n"]


def _source(scope: Scope, q: Query, customer_ids: list[int]) -> str:
    return (
        f"follow_up f JOIN customer c ON c.id = f.customer_id WHERE f.customer_id IN {q.in_list(customer_ids)}"
        f" AND {scope.customers(q, 'c')}"
    )


async def follow_ups_pages(scope: Scope, customer_ids: list[int], args: PageArgs) -> dict[int, Page]:
    """Each customer's follow-ups, by due date."""
    q = Query()
    return await fetch_pages(q, customer_ids, select=_SELECT, source=_source(scope, q, customer_ids), parent="f.customer_id",
                             key=_DUE, args=args, model=FollowUp)


async def follow_up_counts(scope: Scope, customer_ids: list[int]) -> dict[int, int]:
    q = Query()
    sql = f"SELECT f.customer_id AS parent, COUNT(*) AS n FROM {_source(scope, q, customer_ids)} GROUP BY f.customer_id"
    return {row["parent"]: row["n"] for row in await fetch(sql, q)}


async def follow_ups_by_ids(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Follow-ups by id, those of customers the scope hides left out."""
    if not ids:
        return {}
    q = Query()
    sql = (
        f"SELECT {_SELECT} FROM follow_up f JOIN customer c ON c.id = f.customer_id"
        f" WHERE f.id IN {q.in_list(ids)} AND {scope.customers(q, 'c')}"
    )
    return {row["id"]: row for row in await fetch(sql, q, FollowUp)}
