"""A complaint's timeline: every event in its life, with who and when. Append-only.

Filed, acknowledged, assigned, each change of status, internal notes, replies to the customer,
escalations, the survey's answer: each is a row here, written in the same transaction as the
change it records (as the audit log is, which also records it). The database refuses UPDATE
and DELETE on the table (migration 0014). A timeline is read where its complaint is visible.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.pagination import Page, PageArgs, SortKey, fetch_pages
from models.scope import Scope
from models.sql import Query, fetch

__all__ = ["ComplaintEvent", "EventKind", "append", "timeline_counts", "timeline_pages"]


class EventKind(str, Enum):
    FILED = "filed"
    ASSIGNED = "assigned"
    STATUS_CHANGED = "status_changed"
    NOTE = "note"
    REPLY = "reply"
    ESCALATED = "escalated"
    SURVEY_ANSWERED = "survey_answered"


class ComplaintEvent(Model):
    id = fields.BigIntField(primary_key=True)
    complaint = fields.ForeignKeyField("models.Complaint", related_name="events", on_delete=fields.RESTRICT)
    at = fields.DatetimeField()
    actor_user = fields.ForeignKeyField("models.User", related_name="complaint_events", null=True, on_delete=fields.RESTRICT)
    kind = fields.CharEnumField(EventKind, max_length=16)
    from_status = fields.CharField(max_length=24, null=True)
    to_status = fields.CharField(max_length=24, null=True)
    body = fields.TextField(null=True)
    data = fields.JSONField(default=dict)

    class Meta:
        table = "complaint_event"
        indexes = (("complaint_id", "at", "id"),)


async def append(
    connection,
    scope: Scope,
    complaint_id: int,
    kind: EventKind,
    at: datetime,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    body: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    await ComplaintEvent.create(
        using_db=connection,
        complaint_id=complaint_id,
        at=at,
        actor_user_id=scope.viewer.user_id if scope.viewer else None,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        body=body,
        data=data or {},
    )


_KEY = SortKey("e.at", "datetime", descending=False)
_SELECT = "e.id, e.complaint_id, e.at, e.actor_user_id, e.kind, e.from_status, e.to_status, e.body, e.data"


def _source(scope: Scope, q: Query, complaint_ids: list[int]) -> str:
    from models.complaints import visible  # the complaint's rule; it imports this module to write

    return (
        "complaint_event e JOIN complaint k ON k.id = e.complaint_id JOIN customer c ON c.id = k.customer_id"
        f" WHERE e.complaint_id IN {q.in_list(complaint_ids)} AND {visible(scope, q)}"
    )


async def timeline_pages(scope: Scope, complaint_ids: list[int], args: PageArgs) -> dict[int, Page]:
    """Each complaint's events, oldest first."""
    q = Query()
    return await fetch_pages(
        q, complaint_ids, select=_SELECT, source=_source(scope, q, complaint_ids), parent="e.complaint_id",
        key=_KEY, args=args, model=ComplaintEvent,
    )


async def timeline_counts(scope: Scope, complaint_ids: list[int]) -> dict[int, int]:
    q = Query()
    sql = f"SELECT e.complaint_id AS parent, COUNT(*) AS n FROM {_source(scope, q, complaint_ids)} GROUP BY e.complaint_id"
    return {row["parent"]: row["n"] for row in await fetch(sql, q)}
