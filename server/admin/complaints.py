"""Complaints in the admin: the live queue, a complaint's page and the moves on it.

The queue's filters and pages swap its rows in place (htmx); a server-sent event stream tells
the page when a complaint it may see changes, and the page fetches its rows again. Every
action goes through models/complaints.py, which refuses what the domain refuses; the page
shows the refusal's reason where the action was.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from models import complaints, live, surveys, timeline
from models.complaints import ComplaintFilter, ComplaintOrder, Status
from models.errors import DomainError, ErrorCode
from models.pagination import PageArgs
from models.service_levels import Priority, clock_for, working_calendar
from models.sessions import viewer_for_session
from server.admin.pages import (
    SESSION_COOKIE,
    Admin,
    cookie_name,
    form_id,
    input_errors,
    page,
    parse_id,
    path_id,
    render,
)
from server.i18n import gettext as _

__all__ = ["add_note", "assign", "complaint_page", "events", "labels", "left_text", "move", "queue", "queue_rows"]

_HEARTBEAT = 20.0
_QUEUE_SIZE = 25


def labels() -> dict[str, dict[str, str]]:
    """How the values of the domain's lists (statuses, priorities, channels, timeline events, interaction
    kinds, order statuses, sources, link kinds, follow-up statuses, tiers, stages, membership levels, points
    entries) read, in the page's language."""
    return {
        "status": {
            "new": _("New"), "acknowledged": _("Acknowledged"), "in_progress": _("In progress"),
            "waiting_on_customer": _("Waiting on customer"), "resolved": _("Resolved"), "reopened": _("Reopened"),
            "closed": _("Closed"), "cancelled": _("Cancelled"),
        },
        "priority": {"low": _("Low"), "normal": _("Normal"), "high": _("High"), "urgent": _("Urgent")},
        "channel": {
            "phone": _("Phone"), "email": _("Email"), "wechat": _("WeChat"), "web": _("Web"), "store": _("Store"),
            "app": _("App"),
        },
        "event": {
            "filed": _("Filed"), "assigned": _("Assigned"), "status_changed": _("Status changed"),
            "note": _("Internal note"), "reply": _("Reply to the customer"), "escalated": _("Escalated"),
            "survey_answered": _("Survey answered"),
        },
        "target": {"first_response": _("first response"), "resolution": _("resolution")},
        "interaction": {
            "call": _("Call"), "email": _("Email"), "sms": _("SMS"), "wechat": _("WeChat"), "visit": _("Visit"),
            "meeting": _("Meeting"), "note": _("Note"),
        },
        "order": {"pending": _("Pending"), "paid": _("Paid"), "refunded": _("Refunded"), "cancelled": _("Cancelled")},
        "source": {
            "website": _("Website"), "wechat": _("WeChat"), "weibo": _("Weibo"), "app": _("App"), "store": _("Store"),
            "event": _("Event"), "referral": _("Referral"), "import": _("Import"), "other": _("Other"),
        },
        "link": {
            "family": _("Family"), "friend": _("Friend"), "colleague": _("Colleague"), "partner": _("Partner"),
            "subsidiary": _("Subsidiary"), "other": _("Other"),
        },
        "follow_up": {"open": _("Open"), "done": _("Done"), "cancelled": _("Cancelled")},
        "tier": {"vip": _("VIP"), "active": _("Active"), "potential": _("Potential"), "dormant": _("Dormant")},
        "stage": {
            "prospect": _("Prospect"), "new": _("New customer"), "active": _("Active"), "loyal": _("Loyal"),
            "at_risk": _("At risk"), "churned": _("Churned"),
        },
        "level": {"member": _("Member"), "silver": _("Silver"), "gold": _("Gold"), "platinum": _("Platinum")},
        "points": {
            "earn": _("Earned on an order"), "referral": _("Referral reward"), "adjust": _("Adjusted by hand"),
            "redeem": _("Redeemed"), "expire": _("Expired"), "reversal": _("Taken back (refund)"),
        },
    }


def left_text(seconds: int | None) -> str:
    """Time left (or late) for a badge, in days, hours and minutes."""
    if seconds is None:
        return ""
    late, seconds = seconds < 0, abs(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, minutes = divmod(rest // 60, 60)
    if days:
        amount = _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    else:
        amount = _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
    return (_("%(amount)s late") if late else _("%(amount)s left")) % {"amount": amount}


async def _decorated(rows: list[dict[str, Any]], scope) -> list[dict[str, Any]]:
    """Rows with their SLA state and the names of assignees, for the templates."""
    clocks = {flag: await clock_for(flag) for flag in {row["working_time"] for row in rows}}
    names = await complaints.colleagues(scope, sorted({row["assignee_id"] for row in rows if row["assignee_id"]}))
    from models.customers import customers_by_ids

    people = await customers_by_ids(scope, {row["customer_id"] for row in rows}, ("id", "name")) if scope.can("customer.read") else {}
    for row in rows:
        state = complaints.sla(row, clocks[row["working_time"]])
        row["sla"] = state
        row["left"] = left_text(state.time_left_seconds)
        row["breached"] = state.first_response_breached or state.resolution_breached
        row["assignee_name"] = names.get(row["assignee_id"], {}).get("display_name") if row["assignee_id"] else None
        row["customer_name"] = people.get(row["customer_id"], {}).get("name")
    return rows


def _optional_id(raw: str) -> int | None:
    """An id chosen in a filter; anything else filters by nothing."""
    try:
        return parse_id(raw, "id")
    except DomainError:
        return None


def _filter(admin: Admin) -> tuple[ComplaintFilter, dict[str, Any]]:
    """The queue's filter from the query string; by default the open complaints."""
    query = admin.request.query_params
    chosen = {
        "status": [s for s in query.getlist("status") if s in {x.value for x in Status}],
        "priority": [p for p in query.getlist("priority") if p in {x.value for x in Priority}],
        "assignee": query.get("assignee", ""),
        "team": query.get("team", ""),
        "breached": query.get("breached", ""),
        "search": query.get("q", "")[:200],
    }
    statuses = tuple(Status(s) for s in chosen["status"]) or complaints.OPEN
    assignee = chosen["assignee"]
    domain = ComplaintFilter(
        statuses=statuses,
        priorities=tuple(Priority(p) for p in chosen["priority"]),
        assignee_id=admin.viewer.user_id if assignee == "me" else _optional_id(assignee),
        unassigned=assignee == "none",
        team_id=_optional_id(chosen["team"]),
        breached=True if chosen["breached"] == "1" else None,
        search=chosen["search"] or None,
    )
    return domain, chosen


async def _rows_context(admin: Admin) -> dict[str, Any]:
    domain, chosen = _filter(admin)
    after = admin.request.query_params.get("after") or None
    found = await complaints.list_complaints(admin.scope, domain, ComplaintOrder.DUE_AT, PageArgs(first=_QUEUE_SIZE, after=after))
    query = urlencode([(k, v) for k, values in chosen.items() for v in (values if isinstance(values, list) else [values]) if v])
    return {
        "rows": await _decorated(found.rows, admin.scope),
        "next": found.cursor(found.rows[-1]) if found.has_next else None,
        "query": query,
        "chosen": chosen,
    }


async def complaint_work(admin: Admin) -> dict[str, Any]:
    """The home page's share: the caller's open complaints, their teams' breached ones, unread notifications."""
    if not admin.can("complaint.read"):
        return {"complaints_home": None}
    from models import notifications

    first = PageArgs(first=10)
    mine = await complaints.list_complaints(
        admin.scope, ComplaintFilter(statuses=complaints.OPEN, assignee_id=admin.viewer.user_id), ComplaintOrder.DUE_AT, first
    )
    breached = await complaints.list_complaints(
        admin.scope, ComplaintFilter(statuses=complaints.OPEN, breached=True), ComplaintOrder.DUE_AT, first
    )
    unread = await notifications.list_notifications(admin.scope, first, unread_only=True)
    named = await complaints.complaints_by_ids(admin.scope, [row["complaint_id"] for row in unread.rows])
    return {"complaints_home": {
        "mine": await _decorated(mine.rows, admin.scope),
        "breached": await _decorated(breached.rows, admin.scope),
        "unread": [(row, named.get(row["complaint_id"])) for row in unread.rows],
        "labels": labels(),
    }}


@page
async def queue(admin: Admin) -> Response:
    context = await _rows_context(admin)
    return render(admin.request, "complaints.html", {
        **context,
        "labels": labels(),
        "statuses": list(Status),
        "priorities": list(reversed(Priority)),
        "teams": await complaints.queue_teams(admin.scope),
        "staff": await complaints.assignable(admin.scope) if admin.can("complaint.assign") else [],
    }, admin=admin)


@page
async def queue_rows(admin: Admin) -> Response:
    return render(admin.request, "_complaint_rows.html", {**await _rows_context(admin), "labels": labels()}, admin=admin)


async def events(request: Request) -> Response:
    """Server-sent events: ``changed`` with a complaint's id, whenever one the caller may see changes.

    ``ready`` comes first, once the stream listens: the page reads its rows again then, so a
    change made between rendering the page (or losing the stream) and listening is not missed.

    Each change is checked against the caller's scope when it happens (the session too: a
    session that ended ends the stream); what is sent is an id, and the page reads the rows
    through the same rules as any read.
    """
    settings = request.app.state.settings
    secret = request.cookies.get(cookie_name(request, SESSION_COOKIE), "")
    idle = timedelta(minutes=settings.admin_idle_minutes)
    viewer = await viewer_for_session(secret, idle) if secret else None
    if viewer is None or not viewer.can("complaint.read"):
        return Response(status_code=401 if viewer is None else 403)

    from models.scope import Scope

    client_ip = request.client.host if request.client else None

    async def stream():
        async with live.hub.listen() as changes:
            yield "event: ready\ndata: listening\n\n"
            while True:
                try:
                    change = await asyncio.wait_for(changes.get(), _HEARTBEAT)
                except TimeoutError:
                    yield ": still here\n\n"
                    continue
                current = await viewer_for_session(secret, idle)
                if current is None or not current.can("complaint.read"):
                    yield "event: ended\ndata: signed out\n\n"
                    return
                scope = await Scope.for_viewer(current, client_ip)
                if change.complaint_id in await complaints.complaints_by_ids(scope, [change.complaint_id]):
                    yield f"event: changed\ndata: {change.complaint_id}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={
        "cache-control": "no-store", "x-accel-buffering": "no",
    })


async def _complaint(admin: Admin, complaint_id: int) -> dict[str, Any]:
    rows = await complaints.complaints_by_ids(admin.scope, [complaint_id])
    if complaint_id not in rows:
        raise DomainError.single("id", _("no such complaint."), ErrorCode.NOT_FOUND)
    return (await _decorated([rows[complaint_id]], admin.scope))[0]


async def _customer_summary(admin: Admin, customer_id: int) -> dict[str, Any] | None:
    """The customer as the caller may see them, their referrer, recent orders, interactions, complaints."""
    if not admin.can("customer.read"):
        return None
    from models import customers, interactions, orders

    found = await customers.customers_by_ids(admin.scope, [customer_id])
    if customer_id not in found:
        return None
    customer = found[customer_id]
    referrer = None
    if customer["referrer_id"]:
        referrer = (await customers.customers_by_ids(admin.scope, [customer["referrer_id"]], ("id", "name"))).get(customer["referrer_id"])
    recent = PageArgs(first=5)
    return {
        "customer": customer,
        "referrer": referrer,
        "orders": (await orders.orders_pages(admin.scope, [customer_id], recent))[customer_id].rows,
        "interactions": (await interactions.interactions_pages(admin.scope, [customer_id], recent))[customer_id].rows,
        "complaints": (await complaints.complaints_pages(admin.scope, [customer_id], PageArgs(first=10)))[customer_id].rows,
    }


async def _show(admin: Admin, complaint_id: int, status: int = 200, errors: list | None = None, where: str | None = None) -> Response:
    complaint = await _complaint(admin, complaint_id)
    events_ = (await timeline.timeline_pages(admin.scope, [complaint_id], PageArgs(first=100)))[complaint_id].rows
    actors = await complaints.colleagues(admin.scope, sorted({
        e[key] for e in events_ for key in ("actor_user_id",) if e[key]
    } | {e["data"].get("assignee_id") for e in events_ if e["data"].get("assignee_id")}))
    answer = (await surveys.survey_answers(admin.scope, [complaint_id])).get(complaint_id)
    base = admin.request.app.state.settings.public_url or str(admin.request.base_url)
    survey_url = surveys.survey_link(admin.scope, complaint_id, complaint["survey_issued_at"], answer is not None, base)
    template = "_complaint_body.html" if admin.request.headers.get("hx-request") else "complaint.html"
    return render(admin.request, template, {
        "complaint": complaint,
        "labels": labels(),
        "category": {row["code"]: row["label"] for row in await complaints.categories(inactive=True)}.get(
            complaint["category"], complaint["category"]
        ),
        "moves": complaints.allowed_moves(complaint["status"]),
        "events": events_,
        "actors": actors,
        "summary": await _customer_summary(admin, complaint["customer_id"]),
        "staff": await complaints.assignable(admin.scope) if admin.can("complaint.assign") else [],
        "survey_url": survey_url,
        "answer": answer,
        "errors": errors or [],
        "where": where,
        "zone": ZoneInfo((await working_calendar()).timezone),
    }, status, admin)


@page
async def complaint_page(admin: Admin) -> Response:
    return await _show(admin, path_id(admin.request))


async def _act(admin: Admin, where: str, action) -> Response:
    complaint_id = path_id(admin.request)
    try:
        await action(complaint_id)
    except DomainError as error:
        return await _show(admin, complaint_id, 400, input_errors(error), where)
    return await _show(admin, complaint_id)


@page
async def move(admin: Admin) -> Response:
    form = admin.form
    return await _act(admin, "move", lambda pk: complaints.transition_complaint(
        admin.scope, pk, form.get("to", ""), form.get("note") or None
    ))


@page
async def assign(admin: Admin) -> Response:
    assignee = form_id(admin.form, "assignee_id", "assigneeId")
    return await _act(admin, "assign", lambda pk: complaints.assign_complaint(admin.scope, pk, assignee))


@page
async def add_note(admin: Admin) -> Response:
    form = admin.form
    return await _act(admin, "note", lambda pk: complaints.add_complaint_note(
        admin.scope, pk, form.get("body", ""), form.get("internal") != "false"
    ))
