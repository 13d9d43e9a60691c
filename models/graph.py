"""The customer graph: referrals (who referred whom) and links between customers.

Referrals form a forest: every customer has at most one referrer and no chain may loop.
Reads over the graph are recursive CTEs seeded with every customer of a page at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import refusals
from models.audit import record
from models.customers import COLUMNS, Customer, columns_of, customers_by_ids, select_list
from models.errors import DomainError, ErrorCode
from models.orders import paid
from models.pagination import MAX_PAGE_SIZE, Page, PageArgs, SortKey, fetch_pages
from models.refusals import Telling
from models.scope import Scope, requires
from models.sql import Query, fetch, money, money_sum
from models.validation import clean_choice, clean_text

__all__ = [
    "MAX_TREE_DEPTH",
    "CustomerLink",
    "LinkKind",
    "ReferralStats",
    "link_customers",
    "link_counts",
    "links_by_ids",
    "links_pages",
    "referral_counts",
    "referral_stats",
    "referral_trees",
    "referrals_pages",
    "set_referrer",
    "tree_args",
    "unlink_customers",
]

MAX_TREE_DEPTH = 6
# Referral chains cannot loop (set_referrer refuses cycles); this bounds a walk regardless.
_WALK_LIMIT = 10_000


class LinkKind(str, Enum):
    FAMILY = "family"
    FRIEND = "friend"
    COLLEAGUE = "colleague"
    PARTNER = "partner"
    SUBSIDIARY = "subsidiary"
    OTHER = "other"


class CustomerLink(Model):
    """A secondary-customer tie. ``from`` → ``to`` matters for SUBSIDIARY (to is from's)."""

    id = fields.BigIntField(primary_key=True)
    from_customer = fields.ForeignKeyField(
        "models.Customer", related_name="links_out", on_delete=fields.CASCADE
    )
    to_customer = fields.ForeignKeyField("models.Customer", related_name="links_in", on_delete=fields.CASCADE)
    kind = fields.CharEnumField(LinkKind, max_length=16)
    note = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "customer_link"
        unique_together = (("from_customer", "to_customer", "kind"),)
        indexes = (("to_customer_id", "kind"),)


async def _lock_referrals(connection) -> None:
    """Serialise referral writes on PostgreSQL so two concurrent edits cannot close a loop."""
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query("SELECT pg_advisory_xact_lock(4832001)")


async def _is_downstream(connection, ancestor_id: int, candidate_id: int) -> bool:
    """Does ``candidate`` sit below ``ancestor`` (walking up candidate's referrers, deleted too)?"""
    q = Query()
    sql = (
        "WITH RECURSIVE up(id, n) AS ("
        f" SELECT referrer_id, 1 FROM customer WHERE id = {q.param(candidate_id)}"
        f" UNION ALL SELECT c.referrer_id, up.n + 1 FROM customer c JOIN up ON c.id = up.id"
        f" WHERE up.n < {_WALK_LIMIT})"
        f" SELECT 1 AS hit FROM up WHERE id = {q.param(ancestor_id)} LIMIT 1"
    )
    return bool(await connection.execute_query_dict(sql, q.params))


async def _within_scope(scope: Scope, customer_id: int) -> bool:
    """Whether the customer is in the caller's scope, deleted or not."""
    q = Query()
    sql = f"SELECT 1 AS hit FROM customer c WHERE c.id = {q.param(customer_id)} AND {scope.customers(q, 'c', live=False)}"
    return bool(await fetch(sql, q))


@requires("customer.update", "customer.read")
async def set_referrer(scope: Scope, customer_id: int, referrer_id: int | None) -> dict[str, Any]:
    """Set or clear who referred a customer. A referrer the caller cannot see is not theirs to take the
    credit from: with one in place, the change is refused."""
    ids = [customer_id] if referrer_id is None else [customer_id, referrer_id]
    visible = await customers_by_ids(scope, ids)
    if customer_id not in visible:
        raise DomainError.single("customerId", "no such customer.", ErrorCode.NOT_FOUND)
    if referrer_id is not None and referrer_id not in visible:
        raise DomainError.single("referrerId", "no such customer.", ErrorCode.NOT_FOUND)
    if referrer_id == customer_id:
        raise DomainError.single("referrerId", "a customer cannot refer themselves.", ErrorCode.CYCLE)
    await _refer(scope, customer_id, visible[customer_id]["referrer_id"], referrer_id)
    return (await customers_by_ids(scope, [customer_id]))[customer_id]


async def _refer(scope: Scope, customer_id: int, current: int | None, referrer_id: int | None) -> None:
    # Both refusals below tell of customers the caller may not see (that a hidden referrer is
    # there; that the chain runs through hidden ones): counted, and worded the same for all.
    async with refusals.transaction(scope) as connection:
        await _lock_referrals(connection)
        await refusals.guard(scope)
        if current is not None and current != referrer_id and not await _within_scope(scope, current):
            raise Telling(
                "hidden_referrer", "referrerId",
                "this customer's referrer is outside your data scope; only someone who sees them may change it.",
                ErrorCode.FORBIDDEN,
            )
        if referrer_id is not None and await _is_downstream(connection, customer_id, referrer_id):
            raise Telling(
                "cycle", "referrerId", "the referrer was referred, directly or down the chain, by this customer.",
                ErrorCode.CYCLE,
            )
        if current != referrer_id:
            await Customer.filter(id=customer_id).using_db(connection).update(
                referrer_id=referrer_id,
                referred_at=None if referrer_id is None else datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
            # The referrer is named too: a reader who cannot see them is not told one was set or cleared.
            await record(
                scope, "customer.set_referrer", "customer", customer_id,
                before={"referrer_id": current}, after={"referrer_id": referrer_id}, connection=connection,
                other_customer_id=referrer_id if referrer_id is not None else current,
            )


REFERRAL_KEY = SortKey("c.referred_at", "datetime", descending=True)


async def referrals_pages(
    scope: Scope, referrer_ids: list[int], args: PageArgs, columns: tuple[str, ...] = COLUMNS
) -> dict[int, Page]:
    """Direct referrals of each visible referrer, most recently referred first, as rows of ``columns``."""
    q = Query()
    source = f"{_referrals(scope, q, referrer_ids)} AND {scope.customers(q, 'c')}"
    select = select_list("c", columns_of(columns, REFERRAL_KEY.name))
    pages = await fetch_pages(
        q, referrer_ids, select=select, source=source, parent="c.referrer_id", key=REFERRAL_KEY, args=args, model=Customer
    )
    for page in pages.values():
        page.rows = [scope.present(row) for row in page.rows]
    return pages


def _referrals(scope: Scope, q: Query, referrer_ids: Iterable[int]) -> str:
    """``customer c``, the referrals of those of ``referrer_ids`` the caller sees (the caller may see c or not)."""
    return (
        f"customer c JOIN customer r ON r.id = c.referrer_id"
        f" WHERE c.referrer_id IN {q.in_list(referrer_ids)} AND {scope.customers(q, 'r')}"
    )


async def referral_counts(scope: Scope, referrer_ids: list[int]) -> dict[int, int]:
    q = Query()
    sql = (
        f"SELECT c.referrer_id AS parent, COUNT(*) AS n FROM {_referrals(scope, q, referrer_ids)}"
        f" AND {scope.customers(q, 'c')} GROUP BY c.referrer_id"
    )
    return {row["parent"]: row["n"] for row in await fetch(sql, q)}


def _downstream_cte(scope: Scope, q: Query, root_ids: Iterable[int], depth: int) -> str:
    """``down(root, id, level)``: every visible customer below each visible root, to ``depth`` levels.

    The walk stops at a customer the scope hides (or that was deleted): what lies below an
    absent customer is not reached through it.
    """
    return (
        "WITH RECURSIVE down(root, id, level) AS ("
        f" SELECT c.referrer_id, c.id, 1 FROM {_referrals(scope, q, root_ids)} AND {scope.customers(q, 'c')}"
        " UNION ALL SELECT down.root, c.id, down.level + 1 FROM customer c JOIN down ON c.referrer_id = down.id"
        f" WHERE down.level < {depth} AND {scope.customers(q, 'c')})"
    )


def tree_args(depth: int, first: int) -> tuple[int, int]:
    """Check a referral tree's depth (1 to 6) and size (0 to 100) before any SQL is written."""
    if not 1 <= depth <= MAX_TREE_DEPTH:
        raise DomainError.single("depth", f"depth must be between 1 and {MAX_TREE_DEPTH}.", ErrorCode.INVALID)
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise DomainError.single("first", f"first must be between 0 and {MAX_PAGE_SIZE}.", ErrorCode.INVALID)
    return depth, first


async def referral_trees(
    scope: Scope, root_ids: list[int], depth: int, first: int
) -> dict[int, list[tuple[int, dict[str, Any]]]]:
    """Each root's downstream as ``(level, customer row)``, nearest levels first, ``first`` at most."""
    depth, first = tree_args(depth, first)
    q = Query()
    sql = (
        _downstream_cte(scope, q, root_ids, depth)
        + f", ranked AS (SELECT down.root, down.level, {select_list('c')}, ROW_NUMBER() OVER"
        " (PARTITION BY down.root ORDER BY down.level, c.referred_at, c.id) AS rn"
        " FROM down JOIN customer c ON c.id = down.id)"
        f" SELECT * FROM ranked WHERE rn <= {first} ORDER BY root, rn"
    )
    trees: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for row in await fetch(sql, q, Customer):
        root, level = row.pop("root"), row.pop("level")
        del row["rn"]
        trees.setdefault(root, []).append((level, scope.present(row)))
    return trees


@dataclass
class ReferralStats:
    direct_count: int = 0
    downstream_count: int = 0
    max_depth: int = 0
    downstream_revenue: list[tuple[Decimal, str]] = field(default_factory=list)


async def referral_stats(scope: Scope, root_ids: list[int]) -> dict[int, ReferralStats]:
    """Counts, depth and paid revenue of each root's whole downstream, in one statement."""
    q = Query()
    sql = (
        _downstream_cte(scope, q, root_ids, _WALK_LIMIT)
        + ", counts AS (SELECT root, COUNT(*) AS downstream,"
        " SUM(CASE WHEN level = 1 THEN 1 ELSE 0 END) AS direct, MAX(level) AS depth FROM down GROUP BY root),"
        f" revenue AS (SELECT down.root, o.currency, {money_sum('o.amount')} AS amount"
        f" FROM down JOIN orders o ON o.customer_id = down.id WHERE {paid('o')}"
        " GROUP BY down.root, o.currency)"
        " SELECT counts.root, counts.downstream, counts.direct, counts.depth, revenue.currency, revenue.amount"
        " FROM counts LEFT JOIN revenue ON revenue.root = counts.root"
    )
    stats = {root: ReferralStats() for root in root_ids}
    for row in await fetch(sql, q):
        entry = stats[row["root"]]
        entry.direct_count = int(row["direct"])
        entry.downstream_count = int(row["downstream"])
        entry.max_depth = int(row["depth"])
        if row["currency"] is not None:
            entry.downstream_revenue.append((money(row["amount"]), row["currency"]))
    for entry in stats.values():
        entry.downstream_revenue.sort(reverse=True)
    return stats


@requires("customer.update", "customer.read")
async def link_customers(
    scope: Scope, from_id: int, to_id: int, kind: LinkKind, note: str | None
) -> dict[str, Any]:
    kind = clean_choice(kind, LinkKind, "kind", required=True)
    note = clean_text(note, "note", max_length=500) or ""
    visible = await customers_by_ids(scope, [from_id, to_id])
    if from_id not in visible:
        raise DomainError.single("fromId", "no such customer.", ErrorCode.NOT_FOUND)
    if to_id not in visible:
        raise DomainError.single("toId", "no such customer.", ErrorCode.NOT_FOUND)
    if from_id == to_id:
        raise DomainError.single("toId", "a customer cannot be linked to themselves.", ErrorCode.SELF_LINK)
    async with in_transaction() as connection:
        await _lock_pair(connection, from_id, to_id)
        existing = await _find_link(from_id, to_id, kind, connection)
        if existing is not None:
            raise DomainError.single(
                "kind",
                f"these customers are already linked as {kind.value}.",
                ErrorCode.DUPLICATE,
                existing=("CustomerLink", existing.id),
            )
        link = await CustomerLink.create(
            from_customer_id=from_id, to_customer_id=to_id, kind=kind, note=note, using_db=connection
        )
        await record(
            scope, "customer_link.create", "customer_link", link.id,
            after={"from_customer_id": from_id, "to_customer_id": to_id, "kind": kind, "note": note},
            connection=connection, customer_id=from_id, other_customer_id=to_id,
        )
    return _link_row(link)


@requires("customer.update", "customer.read")
async def unlink_customers(scope: Scope, from_id: int, to_id: int, kind: LinkKind) -> dict[str, Any]:
    kind = clean_choice(kind, LinkKind, "kind", required=True)
    visible = await customers_by_ids(scope, [from_id, to_id])
    for name, customer_id in (("fromId", from_id), ("toId", to_id)):
        if customer_id not in visible:
            raise DomainError.single(name, "no such customer.", ErrorCode.NOT_FOUND)
    async with in_transaction() as connection:
        link = await _find_link(from_id, to_id, kind, connection)
        if link is None:
            raise DomainError.single("kind", f"these customers have no {kind.value} link.", ErrorCode.NOT_FOUND)
        await CustomerLink.filter(id=link.id).using_db(connection).delete()
        await record(
            scope, "customer_link.delete", "customer_link", link.id,
            before={"from_customer_id": link.from_customer_id, "to_customer_id": link.to_customer_id, "kind": link.kind},
            connection=connection, customer_id=link.from_customer_id, other_customer_id=link.to_customer_id,
        )
    return _link_row(link)


async def _lock_pair(connection, a: int, b: int) -> None:
    """Serialise link writes for one pair on PostgreSQL, whichever way round they come."""
    if connection.capabilities.dialect == "postgres":
        low, high = sorted((a, b))
        key = (low * 1_000_003 + high) % (2**63)
        await connection.execute_query("SELECT pg_advisory_xact_lock($1)", [key])


async def _find_link(a: int, b: int, kind: LinkKind, connection) -> CustomerLink | None:
    """A tie is one tie whichever way round it was recorded, but for SUBSIDIARY, which points."""
    if kind is LinkKind.SUBSIDIARY:
        query = CustomerLink.filter(kind=kind, from_customer_id=a, to_customer_id=b)
    else:
        query = CustomerLink.filter(kind=kind, from_customer_id__in=[a, b], to_customer_id__in=[a, b])
    return await query.using_db(connection).first()


def _link_row(link: CustomerLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "from_customer_id": link.from_customer_id,
        "to_customer_id": link.to_customer_id,
        "kind": link.kind,
        "note": link.note,
        "created_at": link.created_at,
    }


LINK_KEY = SortKey("l.created_at", "datetime", descending=True)
_LINK_SELECT = "l.id, l.from_customer_id, l.to_customer_id, l.kind, l.note, l.created_at"


def _links_source(scope: Scope, q: Query, customer_ids: list[int], kinds: frozenset[LinkKind]) -> str:
    """Links touching each visible customer, once per end, whose other end is visible too."""
    ids = q.in_list(customer_ids)
    ids_again = q.in_list(customer_ids)
    kind_filter = f" AND l.kind IN {q.in_list(sorted({k.value for k in kinds}))}" if kinds else ""
    return (
        "(SELECT id AS link_id, from_customer_id AS owner_id, to_customer_id AS other_id FROM customer_link"
        f" WHERE from_customer_id IN {ids}"
        " UNION ALL SELECT id, to_customer_id, from_customer_id FROM customer_link"
        f" WHERE to_customer_id IN {ids_again}) x"
        " JOIN customer_link l ON l.id = x.link_id JOIN customer c ON c.id = x.other_id"
        " JOIN customer s ON s.id = x.owner_id"
        f" WHERE {scope.customers(q, 'c')} AND {scope.customers(q, 's')}{kind_filter}"
    )


async def links_pages(
    scope: Scope, customer_ids: list[int], args: PageArgs, kinds: frozenset[LinkKind] = frozenset()
) -> dict[int, Page]:
    q = Query()
    return await fetch_pages(
        q,
        customer_ids,
        select=_LINK_SELECT,
        source=_links_source(scope, q, customer_ids, kinds),
        parent="x.owner_id",
        key=LINK_KEY,
        args=args,
        model=CustomerLink,
    )


async def link_counts(scope: Scope, customer_ids: list[int], kinds: frozenset[LinkKind] = frozenset()) -> dict[int, int]:
    q = Query()
    sql = f"SELECT x.owner_id AS parent, COUNT(*) AS n FROM {_links_source(scope, q, customer_ids, kinds)} GROUP BY x.owner_id"
    return {row["parent"]: row["n"] for row in await fetch(sql, q)}


async def links_by_ids(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Links by id; a link is visible only when both its customers are."""
    q = Query()
    sql = (
        f"SELECT {_LINK_SELECT} FROM customer_link l JOIN customer a ON a.id = l.from_customer_id"
        f" JOIN customer b ON b.id = l.to_customer_id WHERE l.id IN {q.in_list(ids)}"
        f" AND {scope.customers(q, 'a')} AND {scope.customers(q, 'b')}"
    )
    return {row["id"]: row for row in await fetch(sql, q, CustomerLink)}
