"""Notifications: a staff member's inbox (assigned to you, escalated to you as team lead).

A notification names a complaint and is read as one: a reader sees those whose complaint they
may see now, under the same rule as every read of it (models/complaints.py ``visible``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

from tortoise import fields
from tortoise.models import Model

from models.errors import DomainError, ErrorCode
from models.pagination import Page, PageArgs, SortKey
from models.scope import Scope, requires
from models.sql import Query, fetch
from models.validation import MAX_ID

__all__ = [
    "Kind", "Notification", "count_notifications", "list_notifications", "mark_notifications_read", "notify",
]


class Kind(str, Enum):
    ASSIGNED = "assigned"
    ESCALATED = "escalated"


class Notification(Model):
    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="notifications", on_delete=fields.CASCADE)
    complaint = fields.ForeignKeyField("models.Complaint", related_name="notifications", on_delete=fields.CASCADE)
    kind = fields.CharEnumField(Kind, max_length=16)
    created_at = fields.DatetimeField()
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification"
        indexes = (("user_id", "created_at", "id"),)


async def notify(connection, user_ids: list[int], kind: Kind, complaint_id: int, at: datetime) -> None:
    if user_ids:
        await Notification.bulk_create(
            [Notification(user_id=user_id, complaint_id=complaint_id, kind=kind, created_at=at) for user_id in user_ids],
            using_db=connection,
        )



_KEY = SortKey("n.created_at", "datetime", descending=True)
_SELECT = "n.id, n.user_id, n.complaint_id, n.kind, n.created_at, n.read_at"


def _source(scope: Scope, q: Query, unread_only: bool) -> str:
    from models.complaints import visible  # complaints write notifications; they read through its rule

    unread = " AND n.read_at IS NULL" if unread_only else ""
    return (
        "notification n JOIN complaint k ON k.id = n.complaint_id JOIN customer c ON c.id = k.customer_id"
        f" WHERE n.user_id = {q.param(scope.viewer.user_id)}{unread} AND {visible(scope, q)}"
    )


@requires("complaint.read")
async def list_notifications(scope: Scope, args: PageArgs, unread_only: bool = False) -> Page:
    """The caller's notifications, newest first."""
    args = args.checked()
    q = Query()
    conditions = [_source(scope, q, unread_only)]
    if (keyset := args.keyset_condition(_KEY, q, "n")) is not None:
        conditions.append(keyset)
    sql = f"SELECT {_SELECT} FROM {' AND '.join(conditions)} ORDER BY {args.order_by(_KEY, 'n')} LIMIT {args.size + 1}"
    return Page.from_rows(await fetch(sql, q, Notification), args, _KEY)


@requires("complaint.read")
async def count_notifications(scope: Scope, unread_only: bool = False) -> int:
    q = Query()
    return (await fetch(f"SELECT COUNT(*) AS n FROM {_source(scope, q, unread_only)}", q))[0]["n"]


@requires("complaint.read")
async def mark_notifications_read(scope: Scope, ids: list[int] | None = None) -> int:
    """Mark the caller's unread notifications read (``ids``, or all) among those it may see, as
    ``list_notifications`` shows them; how many were marked. One whose complaint is out of sight
    stays as it is: the count must not tell that it exists."""
    if ids is not None:
        if len(ids) > 100:
            raise DomainError.single("ids", "at most 100 ids at once.", ErrorCode.INVALID)
        if not all(0 < i <= MAX_ID for i in ids):
            raise DomainError.single("ids", "no such notification.", ErrorCode.NOT_FOUND)
    if ids == []:
        return 0
    q = Query()
    at = q.param(datetime.now(UTC))
    chosen = f" AND n.id IN {q.in_list(ids)}" if ids else ""
    rows = await fetch(
        f"UPDATE notification SET read_at = {at} WHERE id IN (SELECT n.id FROM {_source(scope, q, True)}{chosen})"
        " RETURNING id", q,
    )
    return len(rows)


