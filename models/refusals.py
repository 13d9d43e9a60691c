"""Refusals that tell something the caller may not see, limited so that they cannot be asked by volume.

Phones and emails are unique among live customers and referral chains never loop, so two
refusals necessarily say something about other customers: DUPLICATE, that a number or address
is taken (perhaps by a customer outside the caller's scope, or one whose number it sees only
masked), and CYCLE, that a chain runs from one customer to another (perhaps through customers
it cannot see). Such a refusal is ``Telling``. Each one is recorded in the audit log against
the caller; after ``LIMIT`` of them within ``WINDOW``, every write that could be refused so is
refused as RATE_LIMITED until the window has passed, and reaching the limit is audited too.
The count lives in the database (the audit log), so it holds across workers and restarts.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from tortoise.transactions import in_transaction

from models.audit import record
from models.db import in_a_transaction
from models.errors import DomainError, ErrorCode
from models.scope import Scope
from models.sql import Query, fetch

__all__ = ["LIMIT", "WINDOW", "Telling", "guard", "tallied"]

LIMIT = 5
WINDOW = timedelta(minutes=1)
_ACTIONS = {ErrorCode.DUPLICATE: "user.refused_duplicate", ErrorCode.CYCLE: "user.refused_cycle"}

T = TypeVar("T")


class Telling(DomainError):
    """A refusal that tells something about data the caller may not see: it counts against them."""

    tallied = False


async def _recent(user_id: int) -> int:
    q = Query()
    rows = await fetch(
        f"SELECT COUNT(*) AS n FROM audit_event WHERE actor_user_id = {q.param(user_id)}"
        f" AND action IN {q.in_list(sorted(_ACTIONS.values()))} AND at >= {q.param(datetime.now(UTC) - WINDOW)}",
        q,
    )
    return rows[0]["n"]


async def guard(scope: Scope) -> None:
    """Refuse a write that could end in a telling refusal while the caller is over the limit."""
    if scope.viewer is not None and await _recent(scope.viewer.user_id) >= LIMIT:
        raise DomainError.single(
            None, "too many refused duplicates or loops in the last minute; wait a minute and try again.",
            ErrorCode.RATE_LIMITED,
        )


async def tallied(scope: Scope, write: Awaitable[T]) -> T:
    """``write``'s result; a telling refusal it raises is recorded first, once its transaction
    has rolled back (the outermost caller outside any transaction records it)."""
    try:
        return await write
    except Telling as refusal:
        if not refusal.tallied and not in_a_transaction() and scope.viewer is not None:
            refusal.tallied = True
            await _tally(scope, refusal)
        raise


async def _tally(scope: Scope, refusal: Telling) -> None:
    error = refusal.errors[0]
    user_id = scope.viewer.user_id
    async with in_transaction() as connection:
        await record(
            scope, _ACTIONS[error.code], "user", user_id, after={"field": error.field}, connection=connection
        )
        if await _recent(user_id) == LIMIT:
            await record(scope, "user.rate_limited", "user", user_id, after={"for": _ACTIONS[error.code]},
                         connection=connection)
