"""Saved segments: a named customer filter, evaluated live under the reader's scope.

A segment keeps its filter (models/customer_filter.py) as JSON, never a list of customers:
``customers`` of a segment are the visible customers the filter picks now, so two readers of
one shared segment see their own part of it. A segment is its owner's; a shared one is seen,
not changed, by every member of staff who reads customers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.audit import record
from models.customer_filter import CustomerFilter
from models.errors import DomainError, ErrorCode
from models.scope import Scope, requires
from models.sql import Query, fetch
from models.validation import clean_text

__all__ = ["SavedSegment", "delete_segment", "save_segment", "saved_segments", "saved_segments_by_ids", "shown_conditions"]

MAX_PER_OWNER = 100
COLUMNS = ("id", "name", "conditions", "owner_id", "shared", "created_at", "updated_at")
_SELECT = ", ".join(f"g.{column}" for column in COLUMNS)


class SavedSegment(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=100)
    conditions = fields.JSONField(default=dict)
    """The filter (``CustomerFilter.to_json``)."""
    owner = fields.ForeignKeyField("models.User", related_name="saved_segments", on_delete=fields.CASCADE)
    shared = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "saved_segment"
        unique_together = (("owner", "name"),)


def _readable(scope: Scope, q: Query) -> str:
    scope.require("customer.read")
    if scope.viewer is None:
        return "g.shared"
    return f"(g.owner_id = {q.param(scope.viewer.user_id)} OR g.shared)"


def shown_conditions(scope: Scope, row: dict[str, Any]) -> dict[str, Any]:
    """A segment's conditions as ``scope`` may read them: its search text (a phone number, it may be)
    only for its owner and holders of customer.pii; the segment still applies it for everyone."""
    kept = row["filter"].to_json()
    if not scope.can("customer.pii") and (scope.viewer is None or scope.viewer.user_id != row["owner_id"]):
        kept.pop("search", None)
    return kept


def _row(row: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in row.items() if key != "conditions"}
    return {**kept, "filter": CustomerFilter.from_json(row["conditions"]), "shared": bool(row["shared"])}


@requires("customer.read")
async def saved_segments(scope: Scope) -> list[dict[str, Any]]:
    """The caller's segments and the shared ones, by name."""
    q = Query()
    sql = f"SELECT {_SELECT} FROM saved_segment g WHERE {_readable(scope, q)} ORDER BY g.name, g.id"
    return [_row(row) for row in await fetch(sql, q, SavedSegment)]


async def saved_segments_by_ids(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The segments among ``ids`` the caller may read."""
    if not ids:
        return {}
    q = Query()
    sql = f"SELECT {_SELECT} FROM saved_segment g WHERE g.id IN {q.in_list(ids)} AND {_readable(scope, q)}"
    return {row["id"]: _row(row) for row in await fetch(sql, q, SavedSegment)}


async def _own(scope: Scope, segment_id: int, connection) -> SavedSegment:
    segment = await SavedSegment.filter(id=segment_id).using_db(connection).select_for_update().first()
    if segment is None or (segment.owner_id != scope.viewer.user_id and not segment.shared):
        raise DomainError.single("id", "no such segment.", ErrorCode.NOT_FOUND)
    if segment.owner_id != scope.viewer.user_id:
        raise DomainError.single("id", "a shared segment is changed by its owner only.", ErrorCode.FORBIDDEN)
    return segment


@requires("customer.read")
async def save_segment(
    scope: Scope, name: Any, filter: CustomerFilter, shared: bool = False, segment_id: int | None = None
) -> dict[str, Any]:
    """Create a segment, or change one of one's own (``segment_id``)."""
    if scope.viewer is None:
        raise DomainError.single(None, "a segment belongs to a member of staff.", ErrorCode.FORBIDDEN)
    name = clean_text(name, "name", max_length=100, required=True)
    await filter.where(Query(), scope)  # a filter that would be refused when read is refused now
    values = {"name": name, "conditions": filter.to_json(), "shared": bool(shared)}
    try:
        async with in_transaction() as connection:
            if segment_id is None:
                if await SavedSegment.filter(owner_id=scope.viewer.user_id).using_db(connection).count() >= MAX_PER_OWNER:
                    raise DomainError.single(None, f"at most {MAX_PER_OWNER} segments each.", ErrorCode.INVALID)
                segment = await SavedSegment.create(owner_id=scope.viewer.user_id, using_db=connection, **values)
                before = None
            else:
                segment = await _own(scope, segment_id, connection)
                before = {"name": segment.name, "conditions": segment.conditions, "shared": segment.shared}
                await SavedSegment.filter(id=segment_id).using_db(connection).update(**values, updated_at=datetime.now(UTC))
            await record(scope, "saved_segment.save", "saved_segment", segment.id, before=before, after=values, connection=connection)
    except IntegrityError:
        raise DomainError.single("name", "you have a segment of this name already.", ErrorCode.DUPLICATE) from None
    return (await saved_segments_by_ids(scope, [segment.id]))[segment.id]


@requires("customer.read")
async def delete_segment(scope: Scope, segment_id: int) -> dict[str, Any]:
    if scope.viewer is None:
        raise DomainError.single(None, "a segment belongs to a member of staff.", ErrorCode.FORBIDDEN)
    row = (await saved_segments_by_ids(scope, [segment_id])).get(segment_id)
    async with in_transaction() as connection:
        segment = await _own(scope, segment_id, connection)
        await SavedSegment.filter(id=segment.id).using_db(connection).delete()
        await record(scope, "saved_segment.delete", "saved_segment", segment.id,
                     before={"name": segment.name, "conditions": segment.conditions, "shared": segment.shared}, connection=connection)
    return row
