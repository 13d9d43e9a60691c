"""SLA policies and the working calendar in the admin (complaint.configure)."""

from __future__ import annotations

from starlette.responses import Response

from models import complaints, service_levels
from models.errors import DomainError
from server.admin.complaints import labels
from server.admin.pages import Admin, input_errors, page, render
from server.i18n import gettext as _

__all__ = ["edit", "set_category", "set_day", "update_hours", "update_policy"]


def _minutes(raw: str | None) -> int | str | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else raw or None


async def _show(admin: Admin, status: int = 200, errors: list | None = None, notice: str | None = None) -> Response:
    admin.scope.require("complaint.configure")  # a page for changing them; reading needs complaint.read
    calendar, days = await service_levels.calendar_for(admin.scope)
    return render(admin.request, "service_levels.html", {
        "policies": await service_levels.policies_for(admin.scope),
        "calendar": calendar,
        "days": days,
        "categories": await complaints.categories(inactive=True),
        "weekday_names": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
        "labels": labels(),
        "errors": errors or [],
        "notice": notice,
    }, status, admin)


@page
async def edit(admin: Admin) -> Response:
    return await _show(admin)


async def _saved(admin: Admin, change) -> Response:
    try:
        await change()
    except DomainError as error:
        return await _show(admin, 400, input_errors(error))
    return await _show(admin, notice=_("Saved."))


@page
async def update_policy(admin: Admin) -> Response:
    form = admin.form
    changes = {
        "first_response_minutes": _minutes(form.get("first_response_minutes")),
        "resolution_minutes": _minutes(form.get("resolution_minutes")),
        "working_time": form.get("working_time") == "true",
    }
    return await _saved(admin, lambda: service_levels.update_sla_policy(admin.scope, form.get("priority", ""), changes))


@page
async def update_hours(admin: Admin) -> Response:
    form = admin.form
    changes = {
        "timezone": form.get("timezone", ""),
        "day_start": form.get("day_start", ""),
        "day_end": form.get("day_end", ""),
        "weekdays": [int(d) for d in form.getlist("weekdays") if d.isascii() and d.isdigit() and len(d) == 1],
    }
    return await _saved(admin, lambda: service_levels.update_working_calendar(admin.scope, changes))


@page
async def set_day(admin: Admin) -> Response:
    form = admin.form
    kind = form.get("kind") or None
    day = {"day": form.get("day", ""), "kind": kind, "name": form.get("name")}
    return await _saved(admin, lambda: service_levels.update_working_calendar(admin.scope, {}, [day]))


@page
async def set_category(admin: Admin) -> Response:
    form = admin.form
    active = form.get("active", "true") == "true"
    return await _saved(admin, lambda: complaints.set_category(admin.scope, form.get("code", ""), form.get("label", ""), active))
