"""The escalation sweep: a target missed raises the complaint's escalation level, once.

One UPDATE a kind of breach (first response, resolution) finds the complaints whose target
passed unmet and marks them breached and one level up, set-based: the marking is the claim,
so a complaint is escalated exactly once however many sweeps run at once (on PostgreSQL a
second sweep waits on the row lock, then no longer matches the row). The same transaction
appends each escalation to the timeline and the audit log and notifies the team's lead.
The server runs it every minute; ``kehu sweep`` runs it once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from models import live
from models.complaints import OPEN, RUNNING, in_list
from models.sql import Query

__all__ = ["Swept", "sweep"]


@dataclass(frozen=True)
class Swept:
    first_response: int
    resolution: int

    @property
    def total(self) -> int:
        return self.first_response + self.resolution


_BREACHES = {
    # kind: (flag set, what is overdue)
    "first_response": (
        "first_response_breached",
        f"k.status IN {in_list(OPEN)} AND k.first_responded_at IS NULL AND NOT k.first_response_breached"
        " AND k.first_response_due_at <= {now}",
    ),
    "resolution": (
        "resolution_breached",
        f"k.status IN {in_list(RUNNING)} AND NOT k.resolution_breached AND k.resolution_due_at <= {{now}}",
    ),
}


async def _sweep_one(kind: str, at: datetime) -> int:
    flag, overdue = _BREACHES[kind]
    async with in_transaction() as connection:
        q = Query()
        rows = await connection.execute_query_dict(
            f"UPDATE complaint AS k SET {flag} = TRUE, escalation_level = escalation_level + 1, updated_at = {q.param(at)}"
            f" WHERE {overdue.format(now=q.param(at))} RETURNING id, team_id",
            q.params,
        )
        if not rows:
            return 0
        ids = [row["id"] for row in rows]
        target = json.dumps({"target": kind}, separators=(",", ":"))  # the timeline's data; the audit log's changes:
        breached = json.dumps({"breached": {"from": None, "to": kind}}, separators=(",", ":"))
        for statement in (_timeline, _audit, _notify):
            q = Query()
            await connection.execute_query(statement(q, at, breached if statement is _audit else target, q.id_set(ids)), q.params)
        await live.announce_many(connection, [(row["id"], row["team_id"]) for row in rows])
    return len(rows)


def _timeline(q: Query, at: datetime, target: str, ids: str) -> str:
    return (
        f"INSERT INTO complaint_event (complaint_id, at, kind, data) SELECT k.id, {q.param(at)}, 'escalated', {q.json(target)}"
        f" FROM complaint k WHERE k.id IN {ids}"
    )


def _audit(q: Query, at: datetime, target: str, ids: str) -> str:
    return (
        "INSERT INTO audit_event (at, action, entity_type, entity_id, changes, customer_id)"
        f" SELECT {q.param(at)}, 'complaint.escalate', 'complaint', k.id, {q.json(target)}, k.customer_id"
        f" FROM complaint k WHERE k.id IN {ids}"
    )


def _notify(q: Query, at: datetime, target: str, ids: str) -> str:
    return (
        f"INSERT INTO notification (user_id, complaint_id, kind, created_at) SELECT t.lead_id, k.id, 'escalated', {q.param(at)}"
        f" FROM complaint k JOIN team t ON t.id = k.team_id JOIN staff_user u ON u.id = t.lead_id AND u.is_active"
        f" WHERE k.id IN {ids}"
    )


async def sweep(at: datetime | None = None) -> Swept:
    """Escalate every complaint whose first response or resolution is overdue and not escalated yet."""
    at = at or datetime.now(UTC)
    return Swept(await _sweep_one("first_response", at), await _sweep_one("resolution", at))
