"""The public pool (公海): customers whose owner stopped caring for them go back to their team.

A customer of a tier with a release period (``Rules``; off for every tier by default) whose
owner logged no interaction with them for that many days (counted from the owner's last
interaction, or from when they got the customer) is released by the sweep: owner cleared,
``released_at`` set, one audit event each, set-based. The pool of a team is its customers
without an owner; staff of the team holding ``customer.claim`` see it and claim from it, at
most ``claims_per_day`` a day. A claim is one
conditional UPDATE: of two claims of the same customer at once, one gets it and the other
is told it is taken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.audit import AuditEvent, record
from models.customers import COLUMNS, Customer, CustomerOrder, customers_by_ids, customers_page
from models.errors import DomainError, ErrorCode
from models.pagination import Page, PageArgs
from models.scope import Scope, requires
from models.segments import Tier
from models.settings import bounded, current
from models.sql import Query, fetch

__all__ = [
    "PoolClaim", "Rules", "about_to_release", "claim_customer", "count_pool", "customer_pool", "pool_events",
    "release_customer", "sweep",
]


@dataclass(frozen=True)
class Rules:
    """Days without a touch by the owner after which a customer of each tier is released (None: never)."""

    KEY: ClassVar[str] = "pool"
    vip_days: int | None = bounded(None, 1, 3660, "A VIP customer goes to the pool after this many days without a touch by its owner (empty: never)", optional=True)
    active_days: int | None = bounded(None, 1, 3660, "An ACTIVE customer goes to the pool after this many days without a touch by its owner (empty: never)", optional=True)
    potential_days: int | None = bounded(None, 1, 3660, "A POTENTIAL customer goes to the pool after this many days without a touch by its owner (empty: never)", optional=True)
    dormant_days: int | None = bounded(None, 1, 3660, "A DORMANT customer goes to the pool after this many days without a touch by its owner (empty: never)", optional=True)
    claims_per_day: int = bounded(10, 1, 1000, "The most customers one person may claim from the pool a day")

    def days(self) -> dict[str, int]:
        """The release period of each tier that has one."""
        periods = {tier.value: getattr(self, f"{tier.value}_days") for tier in Tier}
        return {tier: days for tier, days in periods.items() if days is not None}

    def problems(self) -> list[tuple[str, str]]:
        return []


class PoolClaim(Model):
    """A claim from the pool, counted against the day's limit."""

    id = fields.BigIntField(primary_key=True)
    customer = fields.ForeignKeyField("models.Customer", related_name="pool_claims", on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name="pool_claims", on_delete=fields.CASCADE)
    at = fields.DatetimeField()

    class Meta:
        table = "pool_claim"
        indexes = (("user_id", "at"),)


def _last_touch(q: Query) -> str:
    """When the owner of customer ``c`` last cared for them: the later of their last interaction
    and when they got the customer (by a claim, else its creation)."""
    touched = "(SELECT MAX(i.occurred_at) FROM interaction i WHERE i.customer_id = c.id AND i.logged_by_id = c.owner_id)"
    got = "COALESCE(c.owned_since, c.created_at)"
    if q.dialect == "sqlite":
        return f"MAX(COALESCE({touched}, {got}), {got})"
    return f"GREATEST({touched}, {got})"


def _releasable(q: Query, at: datetime, periods: dict[str, int], ahead: timedelta = timedelta(0)) -> str:
    """The condition "owned customer ``c`` (segment ``s``) is released by ``at + ahead``"."""
    by_tier = " OR ".join(
        f"(s.tier = '{Tier(tier).value}' AND {_last_touch(q)} < {q.param(at + ahead - timedelta(days=days))})"
        for tier, days in sorted(periods.items())
    )
    return f"c.owner_id IS NOT NULL AND c.team_id IS NOT NULL AND c.deleted_at IS NULL AND ({by_tier})"


async def sweep(at: datetime | None = None) -> int:
    """Release every customer due for release; how many."""
    at = at or datetime.now(UTC)
    periods = (await current(Rules)).days()
    if not periods:
        return 0
    async with in_transaction() as connection:
        q = Query()
        due = await connection.execute_query_dict(
            "SELECT c.id, c.owner_id FROM customer c JOIN customer_segment s ON s.customer_id = c.id"
            f" WHERE {_releasable(q, at, periods)}", q.params,
        )
        released = await _release(connection, at, [(row["id"], row["owner_id"]) for row in due])
        await _audit_released(connection, at, released)
    return len(released)


def _pairs(q: Query, pairs: list[tuple[int, int]]) -> str:
    """``(customer id, owner id)`` pairs as rows of one parameter (a sweep may release many)."""
    if q.dialect == "sqlite":
        return f"SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS owner_id FROM json_each({q.param(json.dumps(pairs))})"
    return f"SELECT (r ->> 0)::bigint AS id, (r ->> 1)::bigint AS owner_id FROM jsonb_array_elements({q.json(json.dumps(pairs))}) r"


async def _release(connection, at: datetime, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Release each customer from its owner, where that is still its owner (a claim or a second
    sweep in between keeps it). The pairs released."""
    if not pairs:
        return []
    q = Query()
    rows = await connection.execute_query_dict(
        f"UPDATE customer SET owner_id = NULL, owned_since = NULL, released_at = {q.param(at)}, updated_at = {q.param(at)}"
        f" WHERE (id, owner_id) IN (SELECT id, owner_id FROM ({_pairs(q, pairs)}) p) RETURNING id",
        q.params,
    )
    done = {row["id"] for row in rows}
    return [(customer, owner) for customer, owner in pairs if customer in done]


async def _audit_released(connection, at: datetime, released: list[tuple[int, int]]) -> None:
    """The sweep's ``customer.release`` events, one per customer, set-based (no actor: the sweep)."""
    if not released:
        return
    q = Query()
    if q.dialect == "sqlite":
        changes = "json_object('owner_id', json_object('from', p.owner_id, 'to', NULL))"
    else:
        changes = "jsonb_build_object('owner_id', jsonb_build_object('from', p.owner_id, 'to', NULL))"
    await connection.execute_query(
        "INSERT INTO audit_event (at, action, entity_type, entity_id, changes, customer_id)"
        f" SELECT {q.param(at)}, 'customer.release', 'customer', p.id, {changes}, p.id FROM ({_pairs(q, released)}) p",
        q.params,
    )


def _in_pool(scope: Scope, q: Query) -> str:
    """The condition "customer ``c`` is in the caller's team's pool".

    The pool is a grant of its own (``customer.claim``), not part of ``Scope.customers``: a pool
    member with OWN scope sees the pool's list (masked as everywhere) and claims from it, but
    reads nothing more of a customer, nor changes it, until it is theirs.
    """
    scope.require("customer.claim")
    if scope.viewer is None or scope.viewer.team_id is None:
        return "1 = 0"
    return f"c.owner_id IS NULL AND c.team_id = {q.param(scope.viewer.team_id)} AND c.deleted_at IS NULL"


_KEY = CustomerOrder.UPDATED_AT.key()


@requires("customer.claim", "customer.read")
async def customer_pool(scope: Scope, args: PageArgs, columns: tuple[str, ...] = COLUMNS) -> Page:
    """A page of the caller's team's pool, the latest released first."""
    q = Query()
    return await customers_page(scope, q, [_in_pool(scope, q)], _KEY, args, columns)


@requires("customer.claim", "customer.read")
async def count_pool(scope: Scope) -> int:
    q = Query()
    return (await fetch(f"SELECT COUNT(*) AS n FROM customer c WHERE {_in_pool(scope, q)}", q))[0]["n"]


def _today_starts(at: datetime) -> datetime:
    return datetime.combine(at.astimezone(UTC).date(), time(0), tzinfo=UTC)


@requires("customer.claim", "customer.read")
async def claim_customer(scope: Scope, customer_id: int) -> dict[str, Any]:
    """Take a customer of the team's pool as one's own, within the day's limit of claims."""
    rules = await current(Rules)
    now = datetime.now(UTC)
    me = scope.viewer.user_id
    async with in_transaction() as connection:
        q = Query()
        lock = " FOR UPDATE" if q.dialect != "sqlite" else ""  # one claim of a person's at a time: the limit holds
        await connection.execute_query(f"SELECT id FROM staff_user WHERE id = {q.param(me)}{lock}", q.params)
        claimed = await PoolClaim.filter(user_id=me, at__gte=_today_starts(now)).using_db(connection).count()
        if claimed >= rules.claims_per_day:
            raise DomainError.single(
                "id", f"you have claimed {claimed} customers today, the most a day; claim more tomorrow.", ErrorCode.RATE_LIMITED,
            )
        q = Query()
        taken = await connection.execute_query_dict(
            f"UPDATE customer SET owner_id = {q.param(me)}, owned_since = {q.param(now)}, updated_at = {q.param(now)}"
            f" WHERE id = {q.param(customer_id)} AND id IN (SELECT c.id FROM customer c WHERE {_in_pool(scope, q)})"
            # Rechecked on the row once locked: of two claims at once, the second finds an owner.
            " AND owner_id IS NULL RETURNING id",
            q.params,
        )
        if not taken:
            raise await _not_claimable(scope, customer_id)
        await PoolClaim.create(customer_id=customer_id, user_id=me, at=now, using_db=connection)
        await record(scope, "customer.claim", "customer", customer_id, before={"owner_id": None}, after={"owner_id": me},
                     connection=connection)
    return (await customers_by_ids(scope, [customer_id]))[customer_id]


async def _not_claimable(scope: Scope, customer_id: int) -> DomainError:
    # TAKEN only for a customer of the caller's team claimed from its pool since its last release:
    # what the caller may have seen in the pool. Any other customer is not found, whoever owns it.
    customer = await Customer.filter(id=customer_id, team_id=scope.viewer.team_id, deleted_at=None).first()
    if customer is not None and customer.owner_id is not None:
        claims = PoolClaim.filter(customer_id=customer_id)
        if customer.released_at is not None:
            claims = claims.filter(at__gte=customer.released_at)
        if await claims.exists():
            return DomainError.single("id", "someone has claimed this customer already.", ErrorCode.TAKEN)
    return DomainError.single("id", "no such customer in your team's pool.", ErrorCode.NOT_FOUND)


@requires("customer.update", "customer.read")
async def release_customer(scope: Scope, customer_id: int) -> dict[str, Any] | None:
    """Give a customer one owns (or reaches) back to its team's pool."""
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        row = (await customers_by_ids(scope, [customer_id], ("id", "owner_id", "team_id"))).get(customer_id)
        if row is None:
            raise DomainError.single("id", "no such customer.", ErrorCode.NOT_FOUND)
        if row["owner_id"] is None or row["team_id"] is None:
            reason = "it has no team, so no pool to go to." if row["team_id"] is None else "it is in the pool already."
            raise DomainError.single("id", f"this customer cannot be released: {reason}", ErrorCode.INVALID)
        if not await _release(connection, now, [(customer_id, row["owner_id"])]):
            raise DomainError.single("id", "this customer changed hands meanwhile; look again.", ErrorCode.TAKEN)
        await record(scope, "customer.release", "customer", customer_id, before={"owner_id": row["owner_id"]},
                     after={"owner_id": None}, connection=connection)
    # None when the caller saw the customer as its owner only (OWN scope without customer.claim).
    return (await customers_by_ids(scope, [customer_id])).get(customer_id)


@requires("customer.read")
async def about_to_release(scope: Scope, within_days: int = 7, at: datetime | None = None) -> list[dict[str, Any]]:
    """The caller's own customers the sweep will release within ``within_days``, soonest first,
    with ``release_at`` (when) and ``tier``."""
    at = at or datetime.now(UTC)
    periods = (await current(Rules)).days()
    if scope.viewer is None or not periods:
        return []
    q = Query()
    days = "CASE s.tier " + " ".join(f"WHEN '{Tier(t).value}' THEN {d}" for t, d in sorted(periods.items())) + " END"
    sql = (
        f"SELECT c.id, c.name, s.tier, {_last_touch(q)} AS last_touch, {days} AS period FROM customer c"
        " JOIN customer_segment s ON s.customer_id = c.id"
        f" WHERE c.owner_id = {q.param(scope.viewer.user_id)} AND {scope.customers(q, 'c')}"
        f" AND {_releasable(q, at, periods, timedelta(days=within_days))}"
    )
    rows = []
    for row in await fetch(sql, q, Customer):
        touched = row["last_touch"]
        if isinstance(touched, str):  # SQLite hands the COALESCE back as the text it stores
            touched = datetime.fromisoformat(touched)
        rows.append({**row, "release_at": touched + timedelta(days=row["period"])})
    return sorted(rows, key=lambda row: (row["release_at"], row["id"]))


POOL_ACTIONS = ("customer.release", "customer.claim")
MAX_EVENTS = 20


async def pool_events(scope: Scope, customer_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The visible customers' moves to and from the pool, newest first (at most ``MAX_EVENTS``
    each): their timeline of ownership, read from the audit log where the moves are recorded."""
    if not customer_ids:
        return {}
    q = Query()
    actions = ", ".join(f"'{action}'" for action in POOL_ACTIONS)
    sql = (
        "SELECT e.id, e.entity_id AS customer_id, e.action, e.at, e.actor_user_id, e.changes FROM audit_event e"
        " JOIN customer c ON c.id = e.entity_id"
        f" WHERE e.entity_type = 'customer' AND e.entity_id IN {q.in_list(customer_ids)} AND e.action IN ({actions})"
        f" AND {scope.customers(q, 'c')} ORDER BY e.at DESC, e.id DESC"
    )
    events: dict[int, list[dict[str, Any]]] = {}
    for row in await fetch(sql, q, AuditEvent):
        owner = row["changes"].get("owner_id", {})
        kept = events.setdefault(row["customer_id"], [])
        if len(kept) < MAX_EVENTS:
            kept.append({**row, "from_owner_id": owner.get("from"), "to_owner_id": owner.get("to")})
    return events
