"""Customers in the admin: the list with segment filters and saved segments, and a customer's
page with their referral tree drawn as SVG.

The page shows what the caller may see (masked without customer.pii, as everywhere), and the
tree only the visible part of the downstream: the same reads the API answers with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from enum import Enum
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.responses import RedirectResponse, Response

from models import complaints, customers, follow_ups, graph, interactions, orders, pool, saved_segments, segments
from models.birthdays import business_today
from models.customer_filter import CustomerFilter
from models.customers import CustomerOrder, Source
from models.errors import DomainError, ErrorCode
from models.pagination import PageArgs
from models.segments import Stage, Tier
from models.staff import users_by_ids
from server.admin.complaints import labels
from server.admin.loyalty import loyalty_section
from server.admin.pages import Admin, input_errors, page, parse_id, path_id, render
from server.i18n import gettext as _
from server.i18n import language

__all__ = ["Picture", "customer_filter", "customer_page", "delete_segment", "picture", "save_segment", "search"]

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


_SCORES = ("recency", "frequency", "monetary")
_FIELDS = (
    "q", "tier", "stage", "tag", "source", "owner", "open_complaint", "paid_after", "paid_before", "birthday_days",
    *(f"{score}_{end}" for score in _SCORES for end in ("min", "max")),
)
_MANY = ("tier", "stage", "source")


def _chosen(params) -> dict[str, Any]:
    """The list's conditions as the form sent them (strings; the many-valued ones as lists)."""
    return {name: params.getlist(name) if name in _MANY else (params.get(name) or "")[:100] for name in _FIELDS}


def _number(chosen: dict[str, Any], name: str, field: str) -> int | None:
    raw = chosen[name].strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 4:
        raise DomainError.single(field, _("%(field)s must be a whole number.") % {"field": field}, ErrorCode.INVALID)
    return int(raw)


def _day(chosen: dict[str, Any], name: str, field: str) -> datetime | None:
    raw = chosen[name].strip()
    if not raw:
        return None
    try:
        return datetime.combine(date.fromisoformat(raw), time(0), tzinfo=UTC)
    except ValueError:
        raise DomainError.single(field, _("%(field)s must be a date.") % {"field": field}, ErrorCode.INVALID) from None


def _choices(values: list[str], kind: type[Enum], field: str) -> tuple:
    try:
        return tuple(kind(value) for value in values if value)
    except ValueError:
        raise DomainError.single(field, _("%(field)s is not a valid choice.") % {"field": field}, ErrorCode.INVALID) from None


def customer_filter(admin: Admin, chosen: dict[str, Any]) -> CustomerFilter:
    """The domain's filter for the conditions of the form; every unreadable condition is told at once."""
    errors: list = []

    def read(parse, *args):
        try:
            return parse(*args)
        except DomainError as error:
            errors.extend(error.errors)
            return None

    owner = chosen["owner"]
    owners = (admin.viewer.user_id,) if owner == "me" else ((read(parse_id, owner, "owner"),) if owner.strip() and owner != _SAVED else ())
    values = dict(
        search=chosen["q"] or None,
        tags=tuple(tag.strip() for tag in chosen["tag"].split(",") if tag.strip()),
        sources=read(_choices, chosen["source"], Source, "source") or (),
        tiers=read(_choices, chosen["tier"], Tier, "tier") or (),
        stages=read(_choices, chosen["stage"], Stage, "stage") or (),
        owner_ids=tuple(o for o in owners if o is not None),
        has_open_complaint={"yes": True, "no": False}.get(chosen["open_complaint"]),
        last_paid_after=read(_day, chosen, "paid_after", "lastPaidAfter"),
        last_paid_before=read(_day, chosen, "paid_before", "lastPaidBefore"),
        birthday_within_days=read(_number, chosen, "birthday_days", "birthdayWithinDays"),
        **{f"{score}_{end}": read(_number, chosen, f"{score}_{end}", f"{score}{end.title()}") for score in _SCORES for end in ("min", "max")},
    )
    if errors:
        raise DomainError(errors)
    return CustomerFilter(**values)


def _as_form(kept: CustomerFilter, me: int) -> dict[str, Any]:
    """A saved segment's filter as the form's conditions, to show it and to narrow it further."""
    chosen = {name: [] if name in _MANY else "" for name in _FIELDS}
    chosen.update(
        q=kept.search or "", tag=", ".join(kept.tags), tier=[t.value for t in kept.tiers],
        stage=[s.value for s in kept.stages], source=[s.value for s in kept.sources],
        owner="me" if kept.owner_ids == (me,) else (_SAVED if kept.owner_ids else ""),
        open_complaint={True: "yes", False: "no"}.get(kept.has_open_complaint, ""),
        paid_after=kept.last_paid_after.date().isoformat() if kept.last_paid_after else "",
        paid_before=kept.last_paid_before.date().isoformat() if kept.last_paid_before else "",
        birthday_days="" if kept.birthday_within_days is None else str(kept.birthday_within_days),
        **{f"{score}_{end}": str(getattr(kept, f"{score}_{end}") or "") for score in _SCORES for end in ("min", "max")},
    )
    return chosen


_LIST_COLUMNS = ("name", "phone", "company", "owner_id")


# What a saved segment keeps that the form does not show: kept as saved when the form narrows it.
_NOT_IN_FORM = ("team_ids", "created_after", "created_before")
_SAVED = "saved"


async def _listed(admin: Admin, params) -> tuple[dict[str, Any] | None, dict[str, Any], CustomerFilter]:
    """The saved segment the list shows (if any), the form's conditions, and the filter they make:
    a segment opened as saved is evaluated exactly; the form then narrows what it shows of it."""
    current = None
    if (segment_id := parse_id(params.get("segment") or "", "segment")) is not None:
        current = (await saved_segments.saved_segments_by_ids(admin.scope, [segment_id])).get(segment_id)
        if current is None:
            raise DomainError.single("segment", _("no such segment."), ErrorCode.NOT_FOUND)
    if current is not None and not params.get("filtered"):
        return current, _as_form(current["filter"], admin.viewer.user_id), current["filter"]
    chosen = _chosen(params)
    chosen_filter = customer_filter(admin, chosen)
    if current is not None:
        stored = current["filter"]
        kept = {name: getattr(stored, name) for name in _NOT_IN_FORM}
        if chosen["owner"] == _SAVED:
            kept["owner_ids"] = stored.owner_ids
        chosen_filter = replace(chosen_filter, **kept)
    return current, chosen, chosen_filter


@page
async def search(admin: Admin) -> Response:
    """The customer list: the segment filters and the saved segments, tier and stage badges."""
    admin.scope.require("customer.read")
    params = admin.request.query_params
    errors, found, total, current = [], None, 0, None
    chosen = _chosen(params)
    try:
        current, chosen, chosen_filter = await _listed(admin, params)
        found = await customers.list_customers(
            admin.scope, chosen_filter, CustomerOrder.NAME.key(), PageArgs(first=50, after=params.get("after") or None),
            customers.columns_of(_LIST_COLUMNS),
        )
        total = await customers.count_customers(admin.scope, chosen_filter)
    except DomainError as error:
        errors = input_errors(error)
    rows = found.rows if found else []
    segment_rows = await segments.segments_by_customer(admin.scope, [row["id"] for row in rows])
    owners = await users_by_ids(admin.scope, [row["owner_id"] for row in rows if row["owner_id"]])
    hidden = current is not None and any(getattr(current["filter"], name) for name in _NOT_IN_FORM)
    return render(admin.request, "customers.html", {
        "chosen": chosen, "rows": rows, "total": total, "segments": segment_rows, "owners": owners,
        "next": found.cursor(rows[-1]) if found and found.has_next else None, "errors": errors,
        "saved": await saved_segments.saved_segments(admin.scope), "current": current, "more_conditions": hidden,
        "labels": labels(), "tiers": list(Tier), "stages": list(Stage), "sources": list(Source),
        "query": urlencode([(k, v) for k, v in params.multi_items() if k != "after"]),
    }, 400 if errors else 200, admin)


@page
async def save_segment(admin: Admin) -> Response:
    """Save the list's conditions (sent as the list's query) as a segment of one's own."""
    form = admin.form
    _, _, chosen_filter = await _listed(admin, QueryParams(str(form.get("query") or "")[:4000]))
    saved = await saved_segments.save_segment(admin.scope, form.get("name"), chosen_filter, form.get("shared") == "on")
    return RedirectResponse(f"/admin/customers?segment={saved['id']}", status_code=303)


@page
async def delete_segment(admin: Admin) -> Response:
    await saved_segments.delete_segment(admin.scope, path_id(admin.request))
    return RedirectResponse("/admin/customers", status_code=303)


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
    theirs = (await follow_ups.follow_ups_pages(admin.scope, [customer_id], PageArgs(first=100)))[customer_id].rows
    closed = sorted((row for row in theirs if row["status"] != "open"), key=lambda row: (row["closed_at"] or row["created_at"], row["id"]), reverse=True)
    segment = (await segments.segments_by_customer(admin.scope, [customer_id])).get(customer_id)
    moves = (await pool.pool_events(admin.scope, [customer_id])).get(customer_id, [])
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
        "open_follow_ups": [row for row in theirs if row["status"] == "open"],
        "closed_follow_ups": closed[:10],
        "segment": segment,
        "reasons": segments.reasons(segment, language()) if segment else [],
        "segment_history": await segments.segment_history(admin.scope, customer_id),
        "today": await business_today(),
        "pool_events": moves,
        "people": await users_by_ids(admin.scope, [row["actor_user_id"] for row in moves if row["actor_user_id"]]),
        **await loyalty_section(admin, customer_id),
    }, admin=admin)
