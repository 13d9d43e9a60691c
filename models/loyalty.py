"""Loyalty (忠诚度, 会员与积分): a points ledger per customer, referral rewards two levels up, membership levels.

The ledger (``points_entry``) is append-only: database triggers refuse UPDATE and DELETE, as on
the audit log. A correction is another entry, and the balance is the sum of the entries.

Points earned (an order's, a referral reward, a positive adjustment) form lots. What takes
points away is one of two kinds:
- Entries of a lot (``lot_id``): an EXPIRE writes off what is left of a lot on its expiry, a
  REVERSAL takes back, when an order is refunded, what its lot still holds (not what expired).
- Spending (a redemption, a deduction): it takes from the lots oldest first, by when they
  expire, then by entry.
So what is left of a lot is its points, less its own entries, less the spending its elders did
not cover: ``min(its points, max(0, the points of it and every older lot − all spending))``,
one window function over a customer's ledger. A negative balance (a refund took back points
already spent) is paid off by the next points earned, and blocks redemption until then.

Each reward is written once, whatever runs at the same time. Partial unique indexes allow one
EARN per order, one REFERRAL per referred customer and level, one REVERSAL and one EXPIRE per
lot. What reads a balance to take from it (a redemption, a deduction, a refund, the expiry
sweep) first locks the customers' rows (PostgreSQL; ``FOR NO KEY UPDATE``, in id order, so
that it never waits on a payment's inserts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import Enum
from typing import Any, ClassVar

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.audit import record
from models.customers import customers_by_ids
from models.errors import DomainError, ErrorCode
from models.pagination import Page, PageArgs, SortKey, fetch_pages
from models.scope import Scope, requires
from models.segments import BASE_CURRENCY
from models.settings import bounded, current
from models.sql import Query, fetch
from models.validation import clean_text

__all__ = [
    "EntryKind", "Level", "LevelChange", "Loyalty", "LoyaltySweep", "Membership", "PointsEntry", "Rules",
    "adjust_points", "ledger_chunk", "level_changes", "loyalty", "on_paid", "on_refunded", "points_entries_by_ids", "points_pages",
    "points_counts", "redeem_points", "sweep",
]

MAX_POINTS = 100_000_000
"""The most points one redemption or adjustment moves."""
MAX_EARNED = 1_000_000_000
"""The most points one order earns, whatever its amount."""


class EntryKind(str, Enum):
    EARN = "earn"
    REFERRAL = "referral"
    ADJUST = "adjust"
    REDEEM = "redeem"
    EXPIRE = "expire"
    REVERSAL = "reversal"


_EARNED = ("earn", "referral", "adjust", "reversal")
"""The kinds that count as points earned (for the membership level): spending and expiry do not."""
_LEVEL_YEAR = timedelta(days=365)


def _earned(q: Query, at: datetime, alias: str) -> str:
    """SQL: entry ``alias`` counts towards the points earned in the 12 months to ``at``, what a level is drawn by."""
    kinds = ", ".join(f"'{kind}'" for kind in _EARNED)
    return f"{alias}.kind IN ({kinds}) AND {alias}.at > {q.param(at - _LEVEL_YEAR)}"


class Level(str, Enum):
    """Membership levels, lowest first."""

    MEMBER = "member"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


@dataclass(frozen=True)
class Rules:
    """How points are earned, rewarded, kept and turned into levels; an admin changes them (models/rules.py)."""

    KEY: ClassVar[str] = "loyalty"
    points_per_yuan: float = bounded(1.0, 0.0, 100.0, "Points earned per yuan (base currency) of a paid order (0: none)")
    referral_points: int = bounded(100, 0, 1_000_000, "Points to the referrer when a referred customer pays their first order (0: off)")
    referral_min_amount: int = bounded(100, 0, 1_000_000, "A first order rewards the referrers from this many yuan (base currency)")
    second_level_points: int = bounded(50, 0, 1_000_000, "Points to the referrer's referrer then (0: off)")
    expiry_days: int | None = bounded(365, 30, 3660, "Points expire this many days after they were earned (empty: never)", optional=True)
    notice_days: int = bounded(30, 1, 365, "Points expiring within this many days are shown as expiring soon")
    silver_points: int = bounded(1_000, 1, 100_000_000, "Silver (银卡) from this many points earned in the last 12 months")
    gold_points: int = bounded(5_000, 1, 100_000_000, "Gold (金卡) from this many points earned in the last 12 months")
    platinum_points: int = bounded(20_000, 1, 100_000_000, "Platinum (白金) from this many points earned in the last 12 months")

    def problems(self) -> list[tuple[str, str]]:
        said = []
        if self.referral_points and self.second_level_points > self.referral_points:
            said.append(("second_level_points", "must be at most the referrer's reward."))
        if not self.silver_points < self.gold_points < self.platinum_points:
            said.append(("gold_points", "levels need silver < gold < platinum points."))
        return said

    def level(self, earned: int) -> Level:
        for level, threshold in ((Level.PLATINUM, self.platinum_points), (Level.GOLD, self.gold_points),
                                 (Level.SILVER, self.silver_points)):
            if earned >= threshold:
                return level
        return Level.MEMBER


class PointsEntry(Model):
    """One line of a customer's ledger, never changed once written."""

    id = fields.BigIntField(primary_key=True)
    customer = fields.ForeignKeyField("models.Customer", related_name="points_entries", on_delete=fields.RESTRICT)
    kind = fields.CharEnumField(EntryKind, max_length=10)
    points = fields.BigIntField(description="Signed: earned points are positive, spent ones negative.")
    at = fields.DatetimeField(description="When the points were earned or spent (an order's: when it was paid).")
    expires_at = fields.DatetimeField(null=True)
    order_id = fields.BigIntField(null=True, description="The order that earned it, or whose payment or refund caused it.")
    referred_id = fields.BigIntField(null=True, description="REFERRAL: the referred customer whose first payment it rewards.")
    level = fields.SmallIntField(null=True, description="REFERRAL: 1 for the referrer, 2 for the referrer's referrer.")
    lot_id = fields.BigIntField(null=True, description="REVERSAL, EXPIRE: the points earned (an entry) it takes from.")
    reason = fields.CharField(max_length=200, null=True)
    by_user_id = fields.BigIntField(null=True, description="Who wrote it by hand (ADJUST, REDEEM).")
    recorded_at = fields.DatetimeField(auto_now_add=True, description="When it was written.")

    class Meta:
        table = "points_entry"
        indexes = (("customer_id", "id"), ("recorded_at",))
        # Partial unique indexes (one EARN per order, one REFERRAL per customer and level, one
        # REVERSAL and one EXPIRE per lot), the lot and expiry indexes and the append-only
        # triggers: migration 0021.


class Membership(Model):
    """A customer's membership level, as the sweep last drew it."""

    id = fields.BigIntField(primary_key=True)
    customer = fields.OneToOneField("models.Customer", related_name="membership", on_delete=fields.CASCADE)
    level = fields.CharEnumField(Level, max_length=10)
    since = fields.DatetimeField()

    class Meta:
        table = "membership"


class LevelChange(Model):
    """A promotion or demotion, with the points that decided it."""

    id = fields.BigIntField(primary_key=True)
    customer = fields.ForeignKeyField("models.Customer", related_name="level_changes", on_delete=fields.CASCADE)
    at = fields.DatetimeField()
    from_level = fields.CharEnumField(Level, max_length=10)
    to_level = fields.CharEnumField(Level, max_length=10)
    points = fields.BigIntField()

    class Meta:
        table = "level_change"
        indexes = (("customer_id", "at"),)


class LoyaltySweep(Model):
    """How far the sweep has gone (one row): lots expired through ``expired_through``, levels
    drawn at ``levelled_at`` (for everyone on that day's first sweep)."""

    id = fields.SmallIntField(primary_key=True)
    expired_through = fields.DatetimeField(null=True)
    levelled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "loyalty_sweep"


COLUMNS = ("id", "customer_id", "kind", "points", "at", "expires_at", "order_id", "referred_id", "level", "lot_id", "reason")
_SELECT = ", ".join(f"p.{column}" for column in COLUMNS)
_NEWEST = SortKey("p.id", "int", descending=True)


@dataclass
class Loyalty:
    """A customer's points and level as the ledger has them now."""

    balance: int = 0
    level: Level = Level.MEMBER
    earned_12m: int = 0
    expiring_soon: list[tuple[date, int]] = field(default_factory=list)


# --- writing the ledger ----------------------------------------------------------------------


async def _append(connection, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Append ``entries``; an entry a unique index already holds is skipped. The entries written."""
    written = []
    for entry in entries:
        q = Query()
        entry = entry | {"recorded_at": datetime.now(UTC)}
        columns = list(entry)
        rows = await connection.execute_query_dict(
            f"INSERT INTO points_entry ({', '.join(columns)}) VALUES ({', '.join(q.param(entry[c]) for c in columns)})"
            " ON CONFLICT DO NOTHING RETURNING id",
            q.params,
        )
        if rows:
            written.append(entry | {"id": rows[0]["id"]})
    return written


async def _lock(connection, customer_ids: list[int]) -> None:
    """Hold the customers' rows until the transaction ends (PostgreSQL; SQLite writes one at a time)."""
    q = Query()
    if q.dialect != "sqlite" and customer_ids:
        await connection.execute_query(
            f"SELECT id FROM customer WHERE id IN {q.id_set(sorted(set(customer_ids)))} ORDER BY id FOR NO KEY UPDATE", q.params,
        )


async def _audit(scope: Scope | None, connection, entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        await record(scope, f"loyalty.{entry['kind']}", "points_entry", entry["id"],
                     after={key: entry.get(key) for key in ("kind", "points", "order_id", "level", "lot_id", "reason")},
                     connection=connection, customer_id=entry["customer_id"])


def _expires(rules: Rules, at: datetime) -> datetime | None:
    return None if rules.expiry_days is None else at + timedelta(days=rules.expiry_days)


async def _in_base(connection, amount: Decimal, currency: str) -> Decimal | None:
    """``amount`` in the base currency; None when no rate says what ``currency`` is worth."""
    if currency == BASE_CURRENCY:
        return amount
    q = Query()
    rows = await connection.execute_query_dict(f"SELECT rate FROM exchange_rate WHERE currency = {q.param(currency)}", q.params)
    return amount * Decimal(str(rows[0]["rate"])) if rows else None


async def on_paid(scope: Scope | None, connection, order: dict[str, Any]) -> None:
    """What a payment earns, in the payment's transaction, as of when it was paid: the order's
    points, and when it is the customer's first paid order, placed after they were referred and
    worth at least the rules' minimum, the rewards of their referrer and their referrer's referrer
    (in the audit log, being points of other customers)."""
    at = order["paid_at"] or datetime.now(UTC)
    rules = await current(Rules)
    expires_at = _expires(rules, at)
    entries = []
    base = await _in_base(connection, Decimal(str(order["amount"])), order["currency"])
    points = 0 if base is None else int((base * Decimal(str(rules.points_per_yuan))).to_integral_value(ROUND_FLOOR))
    if points > 0:
        entries.append({"customer_id": order["customer_id"], "kind": EntryKind.EARN.value, "points": min(points, MAX_EARNED),
                        "at": at, "expires_at": expires_at, "order_id": order["id"]})
    rewards = []
    if base is not None and base >= rules.referral_min_amount:
        q = Query()
        chain = await connection.execute_query_dict(
            "SELECT c1.id AS first, c2.id AS second FROM customer c0"
            " JOIN customer c1 ON c1.id = c0.referrer_id AND c1.deleted_at IS NULL"
            " LEFT JOIN customer c2 ON c2.id = c1.referrer_id AND c2.deleted_at IS NULL AND c2.id <> c0.id"
            f" WHERE c0.id = {q.param(order['customer_id'])} AND c0.referred_at <= {q.param(at)}"
            " AND NOT EXISTS (SELECT 1 FROM orders o"
            f" WHERE o.customer_id = c0.id AND o.id <> {q.param(order['id'])} AND o.status IN ('paid', 'refunded'))",
            q.params,
        )
        for level, (referrer, reward) in enumerate(
            ((chain[0]["first"], rules.referral_points), (chain[0]["second"], rules.second_level_points)) if chain else (), start=1
        ):
            if referrer is not None and reward > 0:
                rewards.append({"customer_id": referrer, "kind": EntryKind.REFERRAL.value, "points": reward, "at": at,
                                "expires_at": expires_at, "order_id": order["id"], "referred_id": order["customer_id"],
                                "level": level})
    await _append(connection, entries)
    await _audit(scope, connection, await _append(connection, rewards))


async def on_refunded(scope: Scope | None, connection, order: dict[str, Any]) -> None:
    """Take back, in the refund's transaction, what the order's points and the referral rewards its
    payment triggered still hold (what expired is gone already). A balance that no longer covers
    them goes negative."""
    at = datetime.now(UTC)
    q = Query()
    lots = await connection.execute_query_dict(
        f"SELECT p.id, p.customer_id FROM points_entry p WHERE p.order_id = {q.param(order['id'])}"
        " AND p.kind IN ('earn', 'referral') ORDER BY p.id", q.params,
    )
    await _lock(connection, [lot["customer_id"] for lot in lots])
    q = Query()
    held = await connection.execute_query_dict(
        f"SELECT p.id, p.customer_id, p.points + COALESCE((SELECT SUM(t.points) FROM points_entry t WHERE t.lot_id = p.id), 0)"
        f" AS held FROM points_entry p WHERE p.id IN {q.id_set([lot['id'] for lot in lots])} ORDER BY p.id", q.params,
    ) if lots else []
    reversals = [
        {"customer_id": row["customer_id"], "kind": EntryKind.REVERSAL.value, "points": -int(row["held"]), "at": at,
         "order_id": order["id"], "lot_id": row["id"]}
        for row in held if int(row["held"]) > 0
    ]
    await _audit(scope, connection, await _append(connection, reversals))


async def _balance(connection, customer_id: int) -> int:
    q = Query()
    rows = await connection.execute_query_dict(
        f"SELECT COALESCE(SUM(points), 0) AS balance FROM points_entry WHERE customer_id = {q.param(customer_id)}", q.params,
    )
    return int(rows[0]["balance"])


def _clean_points(value: Any, *, signed: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError.single("points", "points must be a whole number.", ErrorCode.INVALID)
    if value == 0 or abs(value) > MAX_POINTS or (value < 0 and not signed):
        what = f"from 1 to {MAX_POINTS:,}" if not signed else f"from -{MAX_POINTS:,} to {MAX_POINTS:,}, not 0"
        raise DomainError.single("points", f"points must be {what}.", ErrorCode.INVALID)
    return value


async def _write_by_hand(scope: Scope, customer_id: int, kind: EntryKind, points: int, reason: str | None) -> dict[str, Any]:
    at = datetime.now(UTC)
    async with in_transaction() as connection:
        if customer_id not in await customers_by_ids(scope, [customer_id], ("id",)):
            raise DomainError.single("customerId", "no such customer.", ErrorCode.NOT_FOUND)
        if points < 0:
            await _lock(connection, [customer_id])
            balance = await _balance(connection, customer_id)
            if balance < -points:
                raise DomainError.single(
                    "points", f"the balance is {balance} points: it does not cover {-points}.", ErrorCode.INSUFFICIENT_POINTS,
                )
        expires_at = _expires(await current(Rules), at) if points > 0 else None
        entry = {"customer_id": customer_id, "kind": kind.value, "points": points, "at": at, "expires_at": expires_at,
                 "reason": reason, "by_user_id": scope.viewer.user_id if scope.viewer else None}
        (written,) = await _append(connection, [entry])
        await _audit(scope, connection, [written])
    return (await points_entries_by_ids(scope, [written["id"]]))[written["id"]]


@requires("loyalty.redeem", "customer.read")
async def redeem_points(scope: Scope, customer_id: int, points: Any, reason: Any) -> dict[str, Any]:
    """Spend ``points`` of a visible customer's balance, oldest first; INSUFFICIENT_POINTS (and
    nothing written) when the balance does not cover them."""
    points = _clean_points(points, signed=False)
    reason = clean_text(reason, "reason", max_length=200, required=True)
    return await _write_by_hand(scope, customer_id, EntryKind.REDEEM, -points, reason)


@requires("loyalty.adjust", "customer.read")
async def adjust_points(scope: Scope, customer_id: int, points: Any, reason: Any) -> dict[str, Any]:
    """Add points to a visible customer's balance, or deduct them (negative; not beyond the balance), with a reason."""
    points = _clean_points(points, signed=True)
    reason = clean_text(reason, "reason", max_length=200, required=True)
    return await _write_by_hand(scope, customer_id, EntryKind.ADJUST, points, reason)


def _left(customers: str, q: Query) -> str:
    """SQL: every lot of ``customers`` (a SQL list) with what is left of it (``left_``), by the module's rule."""
    return (
        "WITH lots AS (SELECT p.id, p.customer_id, p.expires_at, p.points + COALESCE((SELECT SUM(t.points)"
        " FROM points_entry t WHERE t.lot_id = p.id), 0) AS held FROM points_entry p"
        f" WHERE p.customer_id IN {customers} AND p.points > 0 AND p.lot_id IS NULL),"
        " ordered AS (SELECT id, customer_id, expires_at, held, SUM(held) OVER (PARTITION BY customer_id"
        " ORDER BY expires_at IS NULL, expires_at, id ROWS UNBOUNDED PRECEDING) AS through FROM lots),"
        " spent AS (SELECT customer_id, -SUM(points) AS n FROM points_entry"
        f" WHERE customer_id IN {customers} AND points < 0 AND lot_id IS NULL GROUP BY customer_id),"
        " lefts AS (SELECT o.id, o.customer_id, o.expires_at, CASE WHEN o.through - COALESCE(s.n, 0) < o.held"
        " THEN o.through - COALESCE(s.n, 0) ELSE o.held END AS left_ FROM ordered o LEFT JOIN spent s ON s.customer_id = o.customer_id)"
    )


# --- the sweep -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Swept:
    expired: int = 0
    """Points written off."""
    promoted: int = 0
    demoted: int = 0


_LATE_COMMIT = timedelta(minutes=5)
"""How far back the sweep looks again for entries written before it last ran but committed after."""


async def sweep(at: datetime | None = None) -> Swept:
    """Expire what is due, and draw the levels of customers whose ledger changed (everyone's once a
    day, as points leave the 12 months). Once however many run at once: the sweep's row is locked
    (PostgreSQL) for the whole of it."""
    at = at or datetime.now(UTC)
    rules = await current(Rules)
    async with in_transaction() as connection:
        q = Query()
        lock = " FOR UPDATE" if q.dialect != "sqlite" else ""
        await connection.execute_query("INSERT INTO loyalty_sweep (id) VALUES (1) ON CONFLICT DO NOTHING")
        (mark,) = await connection.execute_query_dict(f"SELECT expired_through, levelled_at FROM loyalty_sweep WHERE id = 1{lock}")
        expired_through, levelled_at = (
            LoyaltySweep._meta.fields_map[name].to_python_value(mark[name]) for name in ("expired_through", "levelled_at")
        )
        expired = await _expire(connection, expired_through, at)
        daily = levelled_at is None or levelled_at.astimezone(UTC).date() != at.date()
        promoted, demoted = await _draw_levels(connection, rules, at, None if daily else levelled_at - _LATE_COMMIT)
        q = Query()
        await connection.execute_query(
            f"UPDATE loyalty_sweep SET expired_through = {q.param(at)}, levelled_at = {q.param(at)} WHERE id = 1", q.params,
        )
    return Swept(expired, promoted, demoted)


async def _expire(connection, since: datetime | None, at: datetime) -> int:
    """Write off what is left of each lot expired by ``at``, for the customers with a lot that
    expired since the last sweep or was written since (a payment recorded late)."""
    q = Query()
    new = f" AND (expires_at > {q.param(since)} OR recorded_at > {q.param(since - _LATE_COMMIT)})" if since is not None else ""
    due = await connection.execute_query_dict(
        f"SELECT DISTINCT customer_id FROM points_entry WHERE points > 0 AND expires_at <= {q.param(at)}{new}", q.params,
    )
    ids = sorted(row["customer_id"] for row in due)
    if not ids:
        return 0
    await _lock(connection, ids)  # a redemption reading the balance waits, and then sees what expired
    q = Query()
    rows = await connection.execute_query_dict(
        f"{_left(q.id_set(ids), q)} SELECT id, customer_id, left_ FROM lefts WHERE expires_at <= {q.param(at)} AND left_ > 0",
        q.params,
    )
    entries = [
        {"customer_id": row["customer_id"], "kind": EntryKind.EXPIRE.value, "points": -int(row["left_"]), "at": at,
         "lot_id": row["id"]}
        for row in rows
    ]
    written = await _append(connection, entries)
    return sum(-entry["points"] for entry in written)


async def _draw_levels(connection, rules: Rules, at: datetime, changed_since: datetime | None) -> tuple[int, int]:
    """Promote and demote by the points earned in the last 12 months: the customers with ledger
    entries written since ``changed_since``, or everyone with points or a level when it is None."""
    q = Query()

    def changed(column: str) -> str:
        if changed_since is None:
            return ""
        return f" AND {column} IN (SELECT customer_id FROM points_entry WHERE recorded_at > {q.param(changed_since)})"

    rows = await connection.execute_query_dict(
        f"WITH earned AS (SELECT p.customer_id, SUM(p.points) AS n FROM points_entry p WHERE {_earned(q, at, 'p')}"
        f"{changed('p.customer_id')} GROUP BY p.customer_id)"
        " SELECT e.customer_id, e.n, m.level FROM earned e LEFT JOIN membership m ON m.customer_id = e.customer_id"
        f" UNION ALL SELECT m.customer_id, 0, m.level FROM membership m WHERE m.level <> 'member'{changed('m.customer_id')}"
        " AND NOT EXISTS (SELECT 1 FROM earned e WHERE e.customer_id = m.customer_id)",
        q.params,
    )
    moves = []
    for row in rows:
        was = Level(row["level"]) if row["level"] else Level.MEMBER
        now = rules.level(int(row["n"]))
        if now is not was:
            moves.append(LevelChange(customer_id=row["customer_id"], at=at, from_level=was, to_level=now, points=int(row["n"])))
    if not moves:
        return 0, 0
    await LevelChange.bulk_create(moves, batch_size=1000, using_db=connection)
    q = Query()
    await connection.execute_query(
        "INSERT INTO membership (customer_id, level, since) SELECT customer_id, to_level, at FROM level_change"
        f" WHERE at = {q.param(at)} AND customer_id IN {q.id_set([move.customer_id for move in moves])}"
        " ON CONFLICT (customer_id) DO UPDATE SET level = excluded.level, since = excluded.since",
        q.params,
    )
    order = list(Level)
    promoted = sum(1 for move in moves if order.index(move.to_level) > order.index(move.from_level))
    return promoted, len(moves) - promoted


# --- reading it ------------------------------------------------------------------------------


def _source(scope: Scope, q: Query, customer_ids: list[int]) -> str:
    """The ledger entries of those of ``customer_ids`` the caller sees."""
    return (
        f"points_entry p JOIN customer c ON c.id = p.customer_id WHERE p.customer_id IN {q.in_list(customer_ids)}"
        f" AND {scope.customers(q, 'c')}"
    )


async def loyalty(scope: Scope, customer_ids: list[int], at: datetime | None = None) -> dict[int, Loyalty]:
    """Each visible customer's balance, level, points earned in the last 12 months and points expiring soon."""
    at = at or datetime.now(UTC)
    rules = await current(Rules)
    q = Query()
    rows = await fetch(
        f"SELECT c.id, m.level, COALESCE(SUM(p.points), 0) AS balance,"
        f" COALESCE(SUM(CASE WHEN {_earned(q, at, 'p')} THEN p.points ELSE 0 END), 0) AS earned"
        " FROM customer c LEFT JOIN points_entry p ON p.customer_id = c.id LEFT JOIN membership m ON m.customer_id = c.id"
        f" WHERE c.id IN {q.in_list(customer_ids)} AND {scope.customers(q, 'c')} GROUP BY c.id, m.level",
        q,
    )
    found = {
        row["id"]: Loyalty(int(row["balance"]), Level(row["level"]) if row["level"] else Level.MEMBER, int(row["earned"]))
        for row in rows
    }
    if found:
        for customer_id, day, points in await _expiring(scope, list(found), at + timedelta(days=rules.notice_days)):
            found[customer_id].expiring_soon.append((day, points))
    return found


async def _expiring(scope: Scope, customer_ids: list[int], until: datetime) -> list[tuple[int, date, int]]:
    """What is left of the lots expiring by ``until``, per visible customer and day, soonest first."""
    q = Query()
    rows = await fetch(
        f"{_left(q.in_list(customer_ids), q)} SELECT l.customer_id, l.expires_at, l.left_ FROM lefts l"
        f" JOIN customer c ON c.id = l.customer_id WHERE {scope.customers(q, 'c')} AND l.expires_at IS NOT NULL"
        f" AND l.expires_at <= {q.param(until)} AND l.left_ > 0 ORDER BY l.customer_id, l.expires_at",
        q, PointsEntry,
    )
    days: dict[tuple[int, date], int] = {}
    for row in rows:
        key = (row["customer_id"], row["expires_at"].astimezone(UTC).date())
        days[key] = days.get(key, 0) + int(row["left_"])
    return [(customer_id, day, points) for (customer_id, day), points in days.items()]


async def points_pages(scope: Scope, customer_ids: list[int], args: PageArgs) -> dict[int, Page]:
    """Each visible customer's ledger, newest entry first."""
    q = Query()
    return await fetch_pages(q, customer_ids, select=_SELECT, source=_source(scope, q, customer_ids), parent="p.customer_id",
                             key=_NEWEST, args=args, model=PointsEntry)


async def points_counts(scope: Scope, customer_ids: list[int]) -> dict[int, int]:
    q = Query()
    sql = f"SELECT p.customer_id AS parent, COUNT(*) AS n FROM {_source(scope, q, customer_ids)} GROUP BY p.customer_id"
    return {row["parent"]: row["n"] for row in await fetch(sql, q)}


async def points_entries_by_ids(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Ledger entries by id, those of customers the scope hides left out."""
    if not ids:
        return {}
    q = Query()
    sql = (
        f"SELECT {_SELECT} FROM points_entry p JOIN customer c ON c.id = p.customer_id"
        f" WHERE p.id IN {q.in_list(ids)} AND {scope.customers(q, 'c')}"
    )
    return {row["id"]: row for row in await fetch(sql, q, PointsEntry)}


async def ledger_chunk(
    scope: Scope, after_id: int, size: int, start: datetime | None = None, stop: datetime | None = None,
) -> list[dict[str, Any]]:
    """The next ``size`` entries after ``after_id`` of the visible customers' ledgers, oldest first,
    each with its customer's name; of ``at`` in [start, stop) when given (an export's page)."""
    q = Query()
    window = "".join(
        f" AND p.at {op} {q.param(value)}" for op, value in ((">=", start), ("<", stop)) if value is not None
    )
    return await fetch(
        f"SELECT {_SELECT}, c.name AS customer_name FROM points_entry p JOIN customer c ON c.id = p.customer_id"
        f" WHERE p.id > {q.param(after_id)} AND {scope.customers(q, 'c')}{window} ORDER BY p.id LIMIT {int(size)}",
        q, PointsEntry,
    )


async def level_changes(scope: Scope, customer_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each visible customer's promotions and demotions, newest first (the last 50)."""
    q = Query()
    rows = await fetch(
        "SELECT customer_id, at, from_level, to_level, points FROM (SELECT l.customer_id, l.at, l.from_level, l.to_level,"
        " l.points, ROW_NUMBER() OVER (PARTITION BY l.customer_id ORDER BY l.at DESC, l.id DESC) AS n"
        f" FROM level_change l JOIN customer c ON c.id = l.customer_id WHERE l.customer_id IN {q.in_list(customer_ids)}"
        f" AND {scope.customers(q, 'c')}) x WHERE n <= 50 ORDER BY customer_id, at DESC, n",
        q, LevelChange,
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["customer_id"], []).append(row)
    return found
