"""Customers in the admin: a search box and a customer's page, their referral tree drawn as SVG.

The page shows what the caller may see (masked without customer.pii, as everywhere), and the
tree only the visible part of the downstream: the same reads the API answers with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from models import complaints, customers, graph, interactions, orders
from models.customers import CustomerFilter, CustomerOrder
from models.errors import DomainError, ErrorCode
from models.pagination import PageArgs
from server.admin.complaints import labels
from server.admin.pages import Admin, page, path_id, render
from server.i18n import gettext as _

__all__ = ["Picture", "customer_page", "picture", "search"]

_TREE_DEPTH = 3
_TREE_NODES = 60
_COLUMN = 190  # px between levels
_ROW = 34  # px between customers of a level
_MARGIN = 24


@dataclass(frozen=True)
class Node:
    id: int
    name: str
    x: int
    y: int
    self: bool = False


@dataclass(frozen=True)
class Picture:
    """A referral tree laid out in levels, left to right: the referrer, the customer, their downstream."""

    nodes: list[Node]
    edges: list[tuple[Node, Node]]
    width: int
    height: int


def picture(customer: dict[str, Any], referrer: dict[str, Any] | None, downstream: list[tuple[int, dict[str, Any]]]) -> Picture:
    """Lay out ``customer`` (level 0), its ``referrer`` (level -1) and ``downstream`` as ``(level, row)``."""
    levels: dict[int, list[dict[str, Any]]] = {}
    if referrer is not None:
        levels[-1] = [referrer]
    levels[0] = [customer]
    for level, row in downstream:
        levels.setdefault(level, []).append(row)
    tallest = max(len(rows) for rows in levels.values())
    height = 2 * _MARGIN + max(tallest - 1, 0) * _ROW
    first = min(levels)
    placed: dict[int, Node] = {}
    for level, rows in sorted(levels.items()):
        top = _MARGIN + (height - 2 * _MARGIN - (len(rows) - 1) * _ROW) // 2
        for i, row in enumerate(rows):
            placed[row["id"]] = Node(row["id"], row["name"], _MARGIN + (level - first) * _COLUMN, top + i * _ROW,
                                     self=row["id"] == customer["id"])
    edges = []
    if referrer is not None:
        edges.append((placed[referrer["id"]], placed[customer["id"]]))
    for _level, row in downstream:
        parent = placed.get(row.get("referrer_id"))
        if parent is not None:
            edges.append((parent, placed[row["id"]]))
    width = 2 * _MARGIN + (max(levels) - first) * _COLUMN + 140
    return Picture(list(placed.values()), edges, width, height)


@page
async def search(admin: Admin) -> Response:
    admin.scope.require("customer.read")  # an empty search reads nothing, and the page is still theirs only
    text = admin.request.query_params.get("q", "")[:100]
    rows = []
    if text.strip():
        found = await customers.list_customers(
            admin.scope, CustomerFilter(search=text), CustomerOrder.NAME.key(), PageArgs(first=50),
            customers.columns_of(("name", "phone", "email", "company")),
        )
        rows = found.rows
    return render(admin.request, "customers.html", {"q": text, "rows": rows}, admin=admin)


@page
async def customer_page(admin: Admin) -> Response:
    customer_id = path_id(admin.request)
    found = await customers.customers_by_ids(admin.scope, [customer_id])
    if customer_id not in found:
        raise DomainError.single("id", _("no such customer."), ErrorCode.NOT_FOUND)
    customer = found[customer_id]
    referrer = None
    if customer["referrer_id"]:
        referrer = (await customers.customers_by_ids(admin.scope, [customer["referrer_id"]], ("id", "name"))).get(customer["referrer_id"])
    downstream = (await graph.referral_trees(admin.scope, [customer_id], _TREE_DEPTH, _TREE_NODES)).get(customer_id, [])
    stats = (await graph.referral_stats(admin.scope, [customer_id])).get(customer_id, graph.ReferralStats())
    links = (await graph.links_pages(admin.scope, [customer_id], PageArgs(first=20)))[customer_id].rows
    others = {link["to_customer_id"] if link["from_customer_id"] == customer_id else link["from_customer_id"] for link in links}
    linked = await customers.customers_by_ids(admin.scope, others, ("id", "name"))
    recent = PageArgs(first=10)
    return render(admin.request, "customer.html", {
        "customer": customer,
        "tags": (await customers.tags_by_customer(admin.scope, [customer_id])).get(customer_id, []),
        "referrer": referrer,
        "picture": picture(customer, referrer, downstream),
        "stats": stats,
        "links": [(link, linked.get(link["to_customer_id"] if link["from_customer_id"] == customer_id else link["from_customer_id"]))
                  for link in links],
        "interactions": (await interactions.interactions_pages(admin.scope, [customer_id], recent))[customer_id].rows,
        "orders": (await orders.orders_pages(admin.scope, [customer_id], recent))[customer_id].rows,
        "complaints": (await complaints.complaints_pages(admin.scope, [customer_id], recent))[customer_id].rows,
        "labels": labels(),
    }, admin=admin)
