"""Live changes: which complaint changed, announced to every worker's listeners.

An announcement carries ids only (the complaint and its team), never data: whoever listens
(a subscription, the admin's event stream) reads the complaint again under its own scope, so
what reaches a client obeys the same rule as any read. On PostgreSQL an announcement is a
``NOTIFY`` sent with the write's transaction, delivered to every worker's ``LISTEN`` only if it
commits (server/live.py); SQLite has one worker, and the announcement goes to its hub directly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from models.sql import Query

__all__ = ["CHANNEL", "Change", "announce", "announce_many", "hub"]

CHANNEL = "kehu_complaints"
_QUEUE_SIZE = 1000


@dataclass(frozen=True)
class Change:
    complaint_id: int
    team_id: int | None

    def encode(self) -> str:
        return json.dumps({"id": self.complaint_id, "team": self.team_id})

    @classmethod
    def decode(cls, payload: str) -> Change | None:
        try:
            data = json.loads(payload)
            return cls(int(data["id"]), None if data["team"] is None else int(data["team"]))
        except (ValueError, KeyError, TypeError):
            return None


class Hub:
    """This worker's listeners; a listener too slow to keep up loses its oldest changes."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Change]] = set()

    def publish(self, change: Change) -> None:
        for queue in list(self._queues):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(change)

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[Change]]:
        queue: asyncio.Queue[Change] = asyncio.Queue(_QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._queues)


hub = Hub()


async def announce(connection, complaint_id: int, team_id: int | None) -> None:
    """Announce a change made in ``connection``'s transaction."""
    await announce_many(connection, [(complaint_id, team_id)])


async def announce_many(connection, changed: list[tuple[int, int | None]]) -> None:
    """Announce changes of many complaints (the sweep's) in one statement."""
    changes = [Change(complaint_id, team_id) for complaint_id, team_id in changed]
    q = Query()
    if q.dialect == "sqlite":
        for change in changes:
            hub.publish(change)
        return
    await connection.execute_query(
        f"SELECT pg_notify('{CHANNEL}', payload) FROM unnest({q.param([c.encode() for c in changes])}::text[]) AS payload",
        q.params,
    )
