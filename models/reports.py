"""Exports (报表导出): a saved segment's customers and the loyalty ledger, as CSV rows in chunks.

An export needs ``customer.export``; it is read under the caller's scope like any list (personal
fields masked without ``customer.pii``) and recorded in the audit log before its first row. Its
rows come in chunks of ``CHUNK`` from keyset pages, so that a hundred thousand customers never sit
in memory at once. Cells that a spreadsheet would take for a formula are quoted as text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from models import analytics, loyalty
from models.audit import record
from models.customers import CustomerOrder, list_customers
from models.errors import DomainError, ErrorCode
from models.pagination import PageArgs
from models.saved_segments import saved_segments_by_ids
from models.scope import Scope, requires
from models.segments import segments_by_customer

__all__ = ["CHUNK", "Export", "cell", "ledger_export", "segment_export"]

CHUNK = 1000
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """A value as a CSV cell: text that a spreadsheet would run as a formula starts with a quote."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value.value if hasattr(value, "value") else value)
    return "'" + text if text.startswith(_FORMULA) and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Export:
    """What an export is called, its header, and its rows (read when iterated)."""

    name: str
    header: tuple[str, ...]
    rows: AsyncIterator[tuple[Any, ...]]


_SEGMENT_COLUMNS = (
    "id", "name", "phone", "email", "gender", "birthday", "company", "source", "owner_id", "team_id", "created_at",
)


@requires("customer.export", "customer.read")
async def segment_export(scope: Scope, segment_id: int) -> Export:
    """The visible customers a saved segment picks now, with their tier and stage."""
    segment = (await saved_segments_by_ids(scope, [segment_id])).get(segment_id)
    if segment is None:
        raise DomainError.single("id", "no such segment.", ErrorCode.NOT_FOUND)
    await record(scope, "report.export", "saved_segment", segment_id, after={"report": "segment", "name": segment["name"]})

    async def rows() -> AsyncIterator[tuple[Any, ...]]:
        order, after = CustomerOrder.ID.key(descending=False), None
        while True:
            page = await list_customers(scope, segment["filter"], order, PageArgs(first=CHUNK, after=after), _SEGMENT_COLUMNS, CHUNK)
            kept = await segments_by_customer(scope, [row["id"] for row in page.rows])
            for row in page.rows:
                found = kept.get(row["id"]) or {}
                yield (*(row[column] for column in _SEGMENT_COLUMNS), found.get("tier"), found.get("stage"))
            if not page.has_next:
                return
            after = page.cursor(page.rows[-1])

    return Export(f"segment-{segment_id}", (*_SEGMENT_COLUMNS, "tier", "stage"), rows())


_LEDGER_COLUMNS = ("id", "customer_id", "customer_name", "kind", "points", "at", "expires_at", "order_id", "level", "lot_id", "reason")


@requires("customer.export", "customer.read")
async def ledger_export(scope: Scope, first: date | None = None, last: date | None = None) -> Export:
    """Every ledger entry of the visible customers (of the days ``first`` to ``last`` of the
    business's time zone, when given), oldest first."""
    start, stop = await analytics.instants(first, last)
    await record(scope, "report.export", "report", None,
                 after={"report": "ledger", "from": first.isoformat() if first else None, "to": last.isoformat() if last else None})

    async def rows() -> AsyncIterator[tuple[Any, ...]]:
        after = 0
        while True:
            chunk = await loyalty.ledger_chunk(scope, after, CHUNK, start, stop)
            for row in chunk:
                yield tuple(row[column] for column in _LEDGER_COLUMNS)
            if len(chunk) < CHUNK:
                return
            after = chunk[-1]["id"]

    return Export("points-ledger", _LEDGER_COLUMNS, rows())
