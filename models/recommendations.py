"""What to sell next (交叉销售): products bought by customers who bought what this customer bought.

Computed in SQL over the paid order lines of the base the caller sees: for each product the
customer has not bought, how many other visible customers bought it together with something
the customer bought (its score), and the product of the customer's that most of them share
(what the reason names). A customer with nothing bought yet, or with fewer suggestions than
asked, gets the best sellers among the visible customers of their tier (all visible customers
when they have no tier yet), what they own left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.errors import DomainError, ErrorCode
from models.orders import paid
from models.scope import Scope
from models.sql import Query, fetch

__all__ = ["MAX_FIRST", "Recommendation", "checked_first", "reason", "recommendations"]

MAX_FIRST = 20


@dataclass(frozen=True)
class Recommendation:
    sku: str
    name: str
    score: int
    """Co-buyers: visible customers who bought it and something this customer bought; or, for a
    best seller, the visible customers of the tier who bought it."""
    because_sku: str | None = None
    because_name: str | None = None
    because_count: int = 0
    """How many customers bought both ``because_sku`` and this product."""
    tier: str | None = None
    """For a best seller: the tier it sells best in (None: among everyone)."""


def _name(scope: Scope, q: Query, sku_column: str) -> str:
    """The product's name as the latest line of a paid order of a customer the caller sees gives it."""
    return (
        "(SELECT n.name FROM order_line n JOIN orders no ON no.id = n.order_id JOIN customer nc ON nc.id = no.customer_id"
        f" WHERE n.sku = {sku_column} AND {paid('no')} AND {scope.customers(q, 'nc')} ORDER BY n.id DESC LIMIT 1)"
    )


async def _bought_together(scope: Scope, customer_ids: list[int], first: int) -> dict[int, list[Recommendation]]:
    q = Query()
    mine = (
        "SELECT DISTINCT o.customer_id AS me, l.sku FROM orders o JOIN order_line l ON l.order_id = o.id"
        f" JOIN customer c ON c.id = o.customer_id WHERE o.customer_id IN {q.in_list(customer_ids)} AND {paid('o')}"
        f" AND {scope.customers(q, 'c')}"
    )
    peers = (
        "SELECT DISTINCT m.me, m.sku AS anchor, o.customer_id AS peer FROM mine m"
        " JOIN order_line l ON l.sku = m.sku JOIN orders o ON o.id = l.order_id JOIN customer c ON c.id = o.customer_id"
        f" WHERE {paid('o')} AND o.customer_id <> m.me AND {scope.customers(q, 'c')}"
    )
    theirs = (
        "SELECT DISTINCT p.me, p.anchor, p.peer, l.sku FROM peers p JOIN orders o ON o.customer_id = p.peer"
        f" JOIN order_line l ON l.order_id = o.id WHERE {paid('o')}"
        " AND NOT EXISTS (SELECT 1 FROM mine m WHERE m.me = p.me AND m.sku = l.sku)"
    )
    rows = await fetch(
        f"WITH mine AS ({mine}), peers AS ({peers}), theirs AS ({theirs}),"
        " scored AS (SELECT me, sku, COUNT(DISTINCT peer) AS n FROM theirs GROUP BY me, sku),"
        " anchored AS (SELECT me, sku, anchor, COUNT(*) AS k,"
        " ROW_NUMBER() OVER (PARTITION BY me, sku ORDER BY COUNT(*) DESC, anchor) AS r FROM theirs GROUP BY me, sku, anchor),"
        " ranked AS (SELECT s.me, s.sku, s.n, a.anchor, a.k, ROW_NUMBER() OVER (PARTITION BY s.me ORDER BY s.n DESC, s.sku) AS place"
        " FROM scored s JOIN anchored a ON a.me = s.me AND a.sku = s.sku AND a.r = 1)"
        f" SELECT me, sku, n, anchor, k, {_name(scope, q, 'ranked.sku')} AS name, {_name(scope, q, 'ranked.anchor')} AS anchor_name"
        " FROM ranked"
        f" WHERE place <= {int(first)} ORDER BY me, place",
        q,
    )
    found: dict[int, list[Recommendation]] = {}
    for row in rows:
        found.setdefault(row["me"], []).append(Recommendation(
            row["sku"], row["name"], int(row["n"]), row["anchor"], row["anchor_name"], int(row["k"]),
        ))
    return found


async def _owned(scope: Scope, customer_ids: list[int]) -> tuple[dict[int, set[str]], dict[int, str | None]]:
    """Each visible customer's products bought (paid) and tier."""
    q = Query()
    rows = await fetch(
        "SELECT c.id, s.tier, l.sku FROM customer c LEFT JOIN customer_segment s ON s.customer_id = c.id"
        f" LEFT JOIN orders o ON o.customer_id = c.id AND {paid('o')} LEFT JOIN order_line l ON l.order_id = o.id"
        f" WHERE c.id IN {q.in_list(customer_ids)} AND {scope.customers(q, 'c')}",
        q,
    )
    owned: dict[int, set[str]] = {}
    tiers: dict[int, str | None] = {}
    for row in rows:
        owned.setdefault(row["id"], set())
        tiers[row["id"]] = row["tier"]
        if row["sku"] is not None:
            owned[row["id"]].add(row["sku"])
    return owned, tiers


async def _best_sellers(scope: Scope, tiers: set[str | None], limit: int) -> dict[str | None, list[Recommendation]]:
    """The products most visible customers of each tier bought (None: of every visible customer)."""
    found: dict[str | None, list[Recommendation]] = {}
    for tier in sorted(tiers, key=lambda t: t or ""):  # five tiers at most: None and the four
        q = Query()
        of_tier = (
            f" AND EXISTS (SELECT 1 FROM customer_segment s WHERE s.customer_id = c.id AND s.tier = {q.param(tier)})"
            if tier is not None else ""
        )
        rows = await fetch(
            f"SELECT l.sku, {_name(scope, q, 'l.sku')} AS name, COUNT(DISTINCT o.customer_id) AS n FROM order_line l"
            f" JOIN orders o ON o.id = l.order_id JOIN customer c ON c.id = o.customer_id WHERE {paid('o')}"
            f" AND {scope.customers(q, 'c')}{of_tier} GROUP BY l.sku ORDER BY n DESC, l.sku LIMIT {int(limit)}",
            q,
        )
        found[tier] = [Recommendation(row["sku"], row["name"], int(row["n"]), tier=tier) for row in rows]
    return found


def checked_first(first: int) -> int:
    """How many recommendations a caller may ask for: 1 to ``MAX_FIRST``."""
    if not 1 <= first <= MAX_FIRST:
        raise DomainError.single("first", f"first must be from 1 to {MAX_FIRST}.", ErrorCode.INVALID)
    return first


async def recommendations(scope: Scope, customer_ids: list[int], first: int = 5) -> dict[int, list[Recommendation]]:
    """Up to ``first`` products to offer each visible customer, best first (see the module's text)."""
    first = checked_first(first)
    owned, tiers = await _owned(scope, customer_ids)
    if not owned:
        return {}
    together = await _bought_together(scope, list(owned), first)
    short = {customer_id for customer_id in owned if len(together.get(customer_id, [])) < first}
    sellers = await _best_sellers(scope, {tiers[c] for c in short}, first + max((len(owned[c]) for c in short), default=0)) if short else {}
    found = {}
    for customer_id in owned:
        chosen = list(together.get(customer_id, []))
        taken = owned[customer_id] | {r.sku for r in chosen}
        for seller in sellers.get(tiers[customer_id], []) if customer_id in short else []:
            if len(chosen) >= first:
                break
            if seller.sku not in taken:
                chosen.append(seller)
                taken.add(seller.sku)
        found[customer_id] = chosen
    return found


_TEXTS = {
    "BOUGHT_TOGETHER": ("购买过「{because}」的客户中有 {count} 位也买了它", "bought by {count} customers who also bought {because}"),
    "BEST_SELLER": ("畅销品：{count} 位客户购买过", "a best seller: bought by {count} customers"),
    "TIER_BEST_SELLER": ("{tier}客户中的畅销品：{count} 位购买过", "a best seller among {tier} customers: bought by {count} of them"),
}
_TIERS = {"vip": ("VIP", "VIP"), "active": ("活跃", "active"), "potential": ("潜力", "potential"), "dormant": ("沉睡", "dormant")}


def reason(recommendation: Recommendation, language: str) -> tuple[str, str]:
    """Why it is suggested: a code, and its text in ``language`` (Chinese unless English is asked)."""
    english = int(language.startswith("en"))
    if recommendation.because_sku is not None:
        code, values = "BOUGHT_TOGETHER", {"because": recommendation.because_name, "count": recommendation.because_count}
    elif recommendation.tier is None:
        code, values = "BEST_SELLER", {"count": recommendation.score}
    else:
        code, values = "TIER_BEST_SELLER", {"tier": _TIERS[recommendation.tier][english], "count": recommendation.score}
    return code, _TEXTS[code][english].format(**values)
