"""Subscriptions: complaints as they change, over WebSocket (server/graphql_ws.py).

A change (models/live.py) carries ids only. Every event is a read like any other: the
subscriber is authenticated again (``LiveContext.renew``), the complaint is read through a
fresh set of loaders under the scope they hold now, and it is sent only when it is visible
to them now. A complaint they may not see is never sent, not even its id.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Annotated

import strawberry

from models import live
from models.errors import DomainError
from models.scope import Scope
from schema.complaints import Complaint, complaint_id
from schema.context import Context, Info
from schema.errors import bad_input
from schema.ids import from_global_id
from schema.loaders import Loaders

__all__ = ["RECHECK_SECONDS", "LiveContext", "Subscription"]

RECHECK_SECONDS = 60.0
"""A subscriber is authenticated again at every change, and at least this often while nothing changes."""


@dataclass
class LiveContext(Context):
    """A subscriber's context. ``renew`` authenticates them again: their scope now, or None
    when they may no longer subscribe (the transport has then closed the connection)."""

    renew: Callable[[], Awaitable[Scope | None]] = field(kw_only=True)

    async def refresh(self) -> bool:
        """Start a new event: the scope as it is now and loaders that have cached nothing."""
        scope = await self.renew()
        if scope is None:
            return False
        self.scope = scope
        self.loaders = Loaders(scope)
        self.customer_columns = {}
        return True


def _live(info: Info) -> LiveContext:
    context = info.context
    if not isinstance(context, LiveContext):  # subscriptions run only where they can be renewed
        raise RuntimeError("a subscription needs a LiveContext")
    context.scope.require("complaint.read")
    return context


async def _visible_changes(info: Info, wanted: Callable[[live.Change], bool]) -> AsyncGenerator[Complaint, None]:
    """Each complaint ``wanted`` that changes, read again under the subscriber's scope of the moment."""
    context = _live(info)
    async with live.hub.listen() as changes:
        while True:
            try:
                change = await asyncio.wait_for(changes.get(), RECHECK_SECONDS)
            except TimeoutError:
                if not await context.refresh():
                    return
                continue
            if not wanted(change):
                continue
            if not await context.refresh():
                return
            complaint = await Complaint.load(info, change.complaint_id)
            if complaint is not None:
                yield complaint


def _pk(value: strawberry.ID, field_name: str, kind: str) -> int:
    try:
        return from_global_id(value, field_name, kind)[1]
    except DomainError as error:
        raise bad_input(error) from None


@strawberry.type(description="Live updates over WebSocket at /graphql (graphql-transport-ws). Requires permission: complaint.read.")
class Subscription:
    @strawberry.subscription(
        description=(
            "The complaint each time it changes (filed, moved, assigned, noted, escalated), as you may see it then. "
            "Every change is read again under your scope: while the complaint is not visible to you nothing is sent. "
            "Requires permission: complaint.read."
        )
    )
    async def complaint_updated(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The complaint's global ID.")]
    ) -> AsyncGenerator[Complaint, None]:
        try:
            pk = complaint_id(id, "id")
        except DomainError as error:
            raise bad_input(error) from None
        async with aclosing(_visible_changes(info, lambda change: change.complaint_id == pk)) as complaints:
            async for complaint in complaints:
                yield complaint

    @strawberry.subscription(
        description=(
            "Every complaint you may see, each time one changes: what keeps a queue current. "
            "Each change is read again under your scope; complaints you may not see are never sent. "
            "Requires permission: complaint.read."
        )
    )
    async def complaints_changed(
        self,
        info: Info,
        team_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only complaints of this team (a Team global ID); all you may see when null."),
        ] = None,
    ) -> AsyncGenerator[Complaint, None]:
        team = None if team_id is None else _pk(team_id, "teamId", "Team")
        async with aclosing(_visible_changes(info, lambda change: team is None or change.team_id == team)) as complaints:
            async for complaint in complaints:
                if team is None or complaint.row["team_id"] == team:
                    yield complaint
