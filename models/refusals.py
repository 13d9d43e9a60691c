"""Refusals that tell something the caller may not see, limited so that they cannot be asked by volume.

Phones and emails are unique among live customers and referral chains never loop, so some
refusals necessarily say something about other customers: DUPLICATE, that a number or address
is taken (perhaps by a customer outside the caller's scope, or one whose number it sees only
masked); CYCLE, that a chain runs from one customer to another (perhaps through customers it
cannot see); and the refusal to change a referrer the caller cannot see, that there is one.
Such a refusal is ``Telling``. Each one is recorded in the audit log against the caller; after
``LIMIT`` of them within ``WINDOW``, every write that could be refused so is RATE_LIMITED until
the window has passed, and reaching the limit is audited too.

A write that is not refused tells as much ("this number is free"), so a caller who sees phones
and emails only masked may also set at most ``PERSONAL_PER_HOUR`` of them an hour: without the
cap, thirty customers of one's own tested thirty numbers a request, and a masked number fell
in a minute. The counts live in the database (the audit log), so they hold across workers and
restarts.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from tortoise.transactions import in_transaction

from models.audit import record
from models.db import in_a_transaction
from models.errors import DomainError, ErrorCode, FieldError
from models.scope import Scope
from models.sql import Query, fetch

__all__ = ["LIMIT", "PERSONAL_PER_HOUR", "WINDOW", "Telling", "guard", "tallied"]

LIMIT = 5
WINDOW = timedelta(minutes=1)
PERSONAL_PER_HOUR = 60
_HOUR = timedelta(hours=1)
_KINDS = ("duplicate", "cycle", "hidden_referrer")
_REFUSED = tuple(f"user.refused_{kind}" for kind in _KINDS)

T = TypeVar("T")


class Telling(DomainError):
    """A refusal that tells something about data the caller may not see: it counts against them."""

    def __init__(self, kind: str, field: str, message: str, code: ErrorCode) -> None:
        if kind not in _KINDS:
            raise ValueError(f"not a kind of telling refusal: {kind}")
        super().__init__([FieldError(field, message, code)])
        self.kind = kind
        self.tallied = False


async def _count(scope: Scope, since: timedelta, conditions: str, q: Query) -> int:
    rows = await fetch(
        f"SELECT COUNT(*) AS n FROM audit_event e WHERE e.actor_user_id = {q.param(scope.viewer.user_id)}"
        f" AND e.at >= {q.param(datetime.now(UTC) - since)} AND ({conditions})",
        q,
    )
    return rows[0]["n"]


async def _refusals(scope: Scope) -> int:
    q = Query()
    return await _count(scope, WINDOW, f"e.action IN {q.in_list(_REFUSED)}", q)


async def _personal_writes(scope: Scope) -> int:
    """Phones and emails the caller set, or tried to, in the last hour."""
    q = Query()
    if q.dialect == "sqlite":
        touched = "json_extract(e.changes, '$.phone') IS NOT NULL OR json_extract(e.changes, '$.email') IS NOT NULL"
    else:
        touched = "e.changes -> 'phone' IS NOT NULL OR e.changes -> 'email' IS NOT NULL"
    writes = f"e.action IN {q.in_list(('customer.create', 'customer.update'))} AND ({touched})"
    return await _count(scope, _HOUR, f"({writes}) OR e.action IN {q.in_list(_REFUSED)}", q)


def _rate_limited(message: str) -> DomainError:
    return DomainError.single(None, message, ErrorCode.RATE_LIMITED)


async def guard(scope: Scope, *, personal: bool = False) -> None:
    """Refuse a write that could end in a telling refusal while the caller is over a limit;
    ``personal``: it sets a phone or an email."""
    if scope.viewer is None:
        return
    if await _refusals(scope) >= LIMIT:
        raise _rate_limited("too many refused duplicates or loops in the last minute; wait a minute and try again.")
    if personal and not scope.can("customer.pii") and await _personal_writes(scope) >= PERSONAL_PER_HOUR:
        raise _rate_limited(
            f"without customer.pii, at most {PERSONAL_PER_HOUR} phones or emails may be set an hour; try again later."
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
    action, user_id = f"user.refused_{refusal.kind}", scope.viewer.user_id
    async with in_transaction() as connection:
        await record(scope, action, "user", user_id, after={"field": refusal.errors[0].field}, connection=connection)
        if await _refusals(scope) == LIMIT:
            await record(scope, "user.rate_limited", "user", user_id, after={"for": action}, connection=connection)
