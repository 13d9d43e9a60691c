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
in a minute.

The counts live in the database (the audit log), so they hold across workers and restarts,
and they hold under parallel requests: such a write runs in ``transaction``, which on
PostgreSQL makes the caller's such writes wait for each other, reads the standing inside,
and commits a telling refusal's record (the refusal comes before the write changes anything)
before the next one may read it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from models.audit import record
from models.errors import DomainError, ErrorCode, FieldError
from models.scope import Scope
from models.sql import Query, fetch

__all__ = ["LIMIT", "PERSONAL_PER_HOUR", "WINDOW", "Telling", "check", "guard", "refused", "standing", "transaction"]

LIMIT = 5
WINDOW = timedelta(minutes=1)
PERSONAL_PER_HOUR = 60
_HOUR = timedelta(hours=1)
_KINDS = ("cycle", "duplicate", "hidden_referrer")
_REFUSED = tuple(f"user.refused_{kind}" for kind in _KINDS)
_LOCKS = 4_832_003 << 32  # the advisory locks of the callers' writes, one per user id below 2^32


class Telling(DomainError):
    """A refusal that tells something about data the caller may not see: it counts against them."""

    def __init__(self, kind: str, field: str, message: str, code: ErrorCode) -> None:
        if kind not in _KINDS:
            raise ValueError(f"not a kind of telling refusal: {kind}")
        super().__init__([FieldError(field, message, code)])
        self.kind = kind
        self.tallied = False


def refused(alias: str) -> str:
    """The condition "event ``alias`` is a telling refusal", as the partial index audit_event_refusals
    (migration 0013) states it: literals, not parameters, so that every plan may use the index."""
    return f"{alias}.action IN (" + ", ".join(f"'{action}'" for action in _REFUSED) + ")"


def _count(scope: Scope, q: Query, since: timedelta, conditions: str, value: str = "1") -> str:
    return (
        f"(SELECT COALESCE(SUM({value}), 0) FROM audit_event e WHERE e.actor_user_id = {q.param(scope.viewer.user_id)}"
        f" AND e.at >= {q.param(datetime.now(UTC) - since)} AND ({conditions}))"
    )


def _personal(scope: Scope, q: Query) -> str:
    """How many phones and emails the caller set, or tried to, in the last hour: one each."""
    writes = f"e.action IN {q.in_list(('customer.create', 'customer.update'))}"
    if q.dialect == "sqlite":
        phone, email = (f"json_extract(e.changes, '$.{key}') IS NOT NULL" for key in ("phone", "email"))
    else:
        phone, email = (f"e.changes -> '{key}' IS NOT NULL" for key in ("phone", "email"))
    value = (
        f"CASE WHEN {writes} AND {phone} THEN 1 ELSE 0 END + CASE WHEN {writes} AND {email} THEN 1 ELSE 0 END"
        f" + CASE WHEN {refused('e')} THEN 1 ELSE 0 END"
    )
    return _count(scope, q, _HOUR, f"{writes} OR {refused('e')}", value)


def standing(scope: Scope, q: Query, *, personal: int = 0) -> str:
    """The caller's standing against the limits, as columns of a SELECT for ``check``: ``refused``,
    the last minute's telling refusals; ``personal``, for a write of ``personal`` phones and emails
    by a caller without customer.pii, how many the last hour saw, these included."""
    if scope.viewer is None:
        return "0 AS refused, 0 AS personal"
    refused_ = f"{_count(scope, q, WINDOW, refused('e'))} AS refused"
    if personal and not scope.can("customer.pii"):
        return f"{refused_}, {_personal(scope, q)} + {q.param(personal)} AS personal"
    return f"{refused_}, 0 AS personal"


def check(scope: Scope, row: dict) -> None:
    """Refuse (RATE_LIMITED) a write while the caller, standing as ``row`` says, is over a limit."""
    if row["refused"] >= LIMIT:
        raise DomainError.single(
            None, "too many refused duplicates or loops in the last minute; wait a minute and try again.",
            ErrorCode.RATE_LIMITED,
        )
    if row["personal"] > PERSONAL_PER_HOUR:
        raise DomainError.single(
            None, f"without customer.pii, at most {PERSONAL_PER_HOUR} phones or emails may be set an hour; try again later.",
            ErrorCode.RATE_LIMITED,
        )


async def guard(scope: Scope) -> None:
    """Refuse a write that could end in a telling refusal while the caller is over a limit (a write
    that reads the holders of a value reads its standing with them, ``standing``). Inside ``transaction``."""
    if scope.viewer is None:
        return
    q = Query()
    check(scope, (await fetch(f"SELECT {standing(scope, q)}", q))[0])


@asynccontextmanager
async def transaction(scope: Scope, *, lock: bool = True) -> AsyncIterator[object]:
    """``in_transaction()`` for a write that a telling refusal can end (see the module's docstring);
    ``lock``: wait for the caller's other such writes (PostgreSQL; SQLite runs one write at a time).

    The body reads the standing (``guard``, ``standing``) first, and raises ``Telling`` before it
    changes anything: the transaction then commits the refusal's record alone and raises it."""
    refusal = None
    async with in_transaction() as connection:
        if lock and scope.viewer is not None and connection.capabilities.dialect == "postgres":
            await connection.execute_query("SELECT pg_advisory_xact_lock($1)", [_LOCKS + scope.viewer.user_id % 2**32])
        try:
            yield connection
        except Telling as error:
            if not error.tallied and scope.viewer is not None:
                error.tallied = True
                await _tally(scope, error, connection)
            refusal = error
    if refusal is not None:
        raise refusal


async def _tally(scope: Scope, refusal: Telling, connection) -> None:
    action, user_id = f"user.refused_{refusal.kind}", scope.viewer.user_id
    await record(scope, action, "user", user_id, after={"field": refusal.errors[0].field}, connection=connection)
    q = Query()
    if (await fetch(f"SELECT {standing(scope, q)}", q))[0]["refused"] == LIMIT:
        await record(scope, "user.rate_limited", "user", user_id, after={"for": action}, connection=connection)
