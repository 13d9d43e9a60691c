"""The dashboard on the admin's home page: how the base is doing (models/analytics.py).

The page carries a window picker (from, to, team) and one placeholder per panel; each panel is
fetched by htmx (``/admin/dashboard/<panel>``) with the picker's values, so that a slow figure
holds up its panel alone, and the picker reloads them all. A chart is drawn by
``static/dashboard.js`` from the table of numbers beside it, the same numbers a screen reader
reads and a user copies.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.responses import Response

from models import analytics
from models.customers import customers_by_ids
from models.errors import DomainError, ErrorCode, FieldError
from models.segments import BASE_CURRENCY
from server.admin.complaints import labels
from server.admin.pages import Admin, page, parse_id, render
from server.i18n import gettext as _

__all__ = ["PANELS", "dashboard_context", "day", "panel"]


def day(raw: str, field: str) -> date | None:
    """A date from a form field; empty is none."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise DomainError.single(field, _("%(field)s must be a date such as 2026-05-01.") % {"field": field}, ErrorCode.INVALID) from None


async def _window(admin: Admin) -> analytics.Window:
    params = admin.request.query_params
    first = day(params.get("from") or "", "from")
    last = day(params.get("to") or "", "to")
    team = parse_id(params.get("team") or "", "team")
    return await analytics.window(admin.scope, first, last, team)


def _query(window: analytics.Window) -> str:
    team = f"&team={window.team_id}" if window.team_id is not None else ""
    return f"from={window.first.isoformat()}&to={window.last.isoformat()}{team}"


async def dashboard_context(admin: Admin) -> dict[str, Any]:
    """What the home page's dashboard shows: the picker (with any error in it) and the panels to fetch."""
    if not admin.can("customer.read"):
        return {"dashboard": None}
    errors: list[FieldError] = []
    try:
        window = await _window(admin)
    except DomainError as error:
        errors = error.errors
        window = await analytics.window(admin.scope, None, None)
    return {"dashboard": {
        "window": window, "query": _query(window), "teams": await analytics.teams(admin.scope), "errors": errors,
        "panels": [name for name, (_, needs) in PANELS.items() if needs is None or admin.can(needs)],
    }}


async def _sales(admin: Admin, w: analytics.Window) -> dict[str, Any]:
    revenue = await analytics.revenue(admin.scope, w)
    new = await analytics.new_customers(admin.scope, w)
    return {
        "revenue": revenue, "new_customers": sum(n for _, n in new),
        "retention": await analytics.retention_rate(admin.scope, w),
        "repeat": await analytics.repeat_purchase_rate(admin.scope, w),
        "churn_alerts": await analytics.churn_alerts_opened(admin.scope, w),
    }


async def _growth(admin: Admin, w: analytics.Window) -> dict[str, Any]:
    revenue = await analytics.revenue(admin.scope, w)
    new = dict(await analytics.new_customers(admin.scope, w))
    return {"months": [(month, amount, orders, new.get(month, 0)) for month, amount, orders in revenue.by_month]}


async def _tiers(admin: Admin, w: analytics.Window) -> dict[str, Any]:
    return {"rows": await analytics.tier_distribution(admin.scope, w)}


async def _funnel(admin: Admin, w: analytics.Window) -> dict[str, Any]:
    return {"rows": await analytics.lifecycle_funnel(admin.scope, w)}


async def _satisfaction(admin: Admin, w: analytics.Window) -> dict[str, Any]:
    return {"satisfaction": await analytics.satisfaction(admin.scope, w)}


async def _service(admin: Admin, w: analytics.Window) -> dict[str, Any]:
    median, p90, resolved = await analytics.complaint_resolution_hours(admin.scope, w)
    return {"compliance": await analytics.sla_compliance_rate(admin.scope, w), "median": median, "p90": p90, "resolved": resolved}


async def _referrers(admin: Admin, w: analytics.Window) -> dict[str, Any]:
    rows = await analytics.top_referrers(admin.scope, w, 10)
    names = await _names(admin, [row.customer_id for row in rows])
    return {"rows": [(row, names.get(row.customer_id)) for row in rows]}


async def _names(admin: Admin, ids: list[int]) -> dict[int, str]:
    return {pk: row["name"] for pk, row in (await customers_by_ids(admin.scope, ids, ("id", "name"))).items()}


PANELS = {
    "sales": (_sales, None),
    "growth": (_growth, None),
    "tiers": (_tiers, None),
    "funnel": (_funnel, None),
    "satisfaction": (_satisfaction, analytics.SERVICE),
    "service": (_service, analytics.SERVICE),
    "referrers": (_referrers, None),
}
"""Each panel: what it reads, and the permission it needs beyond customer.read (None: none)."""


@page
async def panel(admin: Admin) -> Response:
    """One panel of the dashboard, for the window the query string names."""
    name = admin.request.path_params["panel"]
    if name not in PANELS:
        raise DomainError.single("panel", _("no such panel."), ErrorCode.NOT_FOUND)
    read, needs = PANELS[name]
    if needs is not None:  # a panel of figures that would all be None is refused, not drawn empty
        admin.scope.require(needs)
    window = await _window(admin)
    context = await read(admin, window)
    return render(admin.request, f"dashboard/_{name}.html",
                  {**context, "window": window, "labels": labels(), "currency": BASE_CURRENCY}, admin=admin)
