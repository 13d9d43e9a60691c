"""My day: the page a salesperson opens in the morning.

Their overdue follow-ups and those due today, each done, snoozed or handed on in place
(htmx swaps the row); the churn alerts and the birthdays of the week among the customers they
see; their customers about to go to the public pool, and the team's pool to claim from. Every action goes through models/follow_ups.py, which refuses what the domain refuses;
the refusal's reason is shown in the row it came from.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import RedirectResponse, Response

from models import birthdays, churn, follow_ups, pool
from models.birthdays import business_today
from models.customers import customers_by_ids
from models.errors import DomainError, ErrorCode, FieldError
from models.pagination import PageArgs
from server.admin.complaints import labels
from server.admin.pages import Admin, form_id, page, path_id, render, render_error
from server.i18n import gettext as _

__all__ = ["claim", "done", "reassign", "snooze", "today"]

_ROWS = 100
_ALERTS = 50
_POOL = 20
_RELEASE_DAYS = 7


async def _named(admin: Admin, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their customer's name (the customers the caller sees; the rows are read through the same scope)."""
    names = await customers_by_ids(admin.scope, {row["customer_id"] for row in rows}, ("id", "name"))
    return [row | {"customer_name": names.get(row["customer_id"], {}).get("name")} for row in rows]


async def _assignees(admin: Admin) -> list[dict[str, Any]]:
    return await follow_ups.follow_up_assignees(admin.scope) if admin.can("interaction.create") else []


async def _page_context(admin: Admin, errors: dict[int, list[FieldError]] | None = None) -> dict[str, Any]:
    day = await business_today()
    mine = await follow_ups.my_follow_ups(admin.scope, PageArgs(first=_ROWS), due_before=day + timedelta(days=1))
    rows = await _named(admin, mine.rows)
    alerts = (await churn.churn_alerts(admin.scope, PageArgs(first=_ALERTS))).rows
    now = datetime.now(UTC)
    alerts = [alert | {"days_now": (now - alert["last_paid_at"]).days} for alert in await _named(admin, alerts)]
    return {
        "today": day,
        "tomorrow": day + timedelta(days=1),
        "overdue": [row for row in rows if row["due_on"] < day],
        "due_today": [row for row in rows if row["due_on"] == day],
        "more": mine.has_next,
        "alerts": alerts,
        "birthdays": await birthdays.upcoming_birthdays(admin.scope, days=7) if admin.can("customer.pii") else None,
        "staff": await _assignees(admin),
        "row_errors": errors or {},
        "labels": labels(),
        "releasing": await pool.about_to_release(admin.scope, within_days=_RELEASE_DAYS),
        "pool": (await pool.customer_pool(admin.scope, PageArgs(first=_POOL), ("id", "name", "company"))).rows
        if admin.can("customer.claim") else None,
    }


@page
async def today(admin: Admin) -> Response:
    return render(admin.request, "today.html", await _page_context(admin), admin=admin)


async def _answer(admin: Admin, follow_up_id: int, result: str | None, errors: list[FieldError] | None = None) -> Response:
    """The row again (htmx), settled with ``result`` or showing ``errors``; without htmx, the page."""
    status = 400 if errors else 200
    if not admin.request.headers.get("hx-request"):
        if not errors:
            return RedirectResponse("/admin/today", status_code=303)
        return render(admin.request, "today.html", await _page_context(admin, {follow_up_id: errors}), status, admin)
    found = await follow_ups.follow_ups_by_ids(admin.scope, [follow_up_id])
    if follow_up_id not in found:
        raise DomainError.single("id", _("no such follow-up."), ErrorCode.NOT_FOUND)
    row = (await _named(admin, [found[follow_up_id]]))[0]
    return render(admin.request, "_follow_up_row.html", {
        "row": row, "result": result, "errors": errors or [], "staff": await _assignees(admin) if errors else [],
        "tomorrow": await business_today() + timedelta(days=1),
    }, status, admin)


async def _act(admin: Admin, action) -> Response:
    follow_up_id = path_id(admin.request)
    try:
        result = await action(follow_up_id)
    except DomainError as error:
        if error.errors[0].code == ErrorCode.FORBIDDEN or follow_up_id not in await follow_ups.follow_ups_by_ids(
            admin.scope, [follow_up_id]
        ):
            raise  # a refusal, or a follow-up the caller does not see: a page of its own (403, 404)
        return await _answer(admin, follow_up_id, None, error.errors)
    return await _answer(admin, follow_up_id, result)


def _text(admin: Admin, name: str) -> str:
    value = admin.form.get(name) or ""
    return value if isinstance(value, str) else ""


@page
async def done(admin: Admin) -> Response:
    """Done with an outcome; the row then says when the next one is due, if the customer's tier brought one."""
    async def run(follow_up_id: int) -> str:
        finished = await follow_ups.complete_follow_up(admin.scope, follow_up_id, _text(admin, "outcome"))
        if finished["next_due_on"] is not None:
            return _("Done. The next follow-up is due on %(date)s.") % {"date": finished["next_due_on"].isoformat()}
        return _("Done.")

    return await _act(admin, run)


@page
async def snooze(admin: Admin) -> Response:
    async def run(follow_up_id: int) -> str:
        changed = await follow_ups.reschedule_follow_up(admin.scope, follow_up_id, due_on=_text(admin, "due_on").strip())
        return _("Snoozed to %(date)s.") % {"date": changed["due_on"].isoformat()}

    return await _act(admin, run)


@page
async def reassign(admin: Admin) -> Response:
    async def run(follow_up_id: int) -> str:
        assignee = form_id(admin.form, "assignee_id", "assigneeId")
        if assignee is None:
            raise DomainError.single("assigneeId", _("choose whom to hand it to."), ErrorCode.INVALID)
        await follow_ups.reschedule_follow_up(admin.scope, follow_up_id, assignee_id=assignee)
        name = {person["id"]: person["display_name"] for person in await _assignees(admin)}.get(assignee, "")
        return _("Handed to %(name)s.") % {"name": name}

    return await _act(admin, run)


@page
async def claim(admin: Admin) -> Response:
    """Claim a customer of the team's pool; the row says it is yours, or why not."""
    customer_id = path_id(admin.request)
    try:
        row = await pool.claim_customer(admin.scope, customer_id)
    except DomainError as error:
        if error.errors[0].code in (ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND):
            raise
        if not admin.request.headers.get("hx-request"):
            return render_error(admin.request, 400, str(error), admin)
        seen = (await customers_by_ids(admin.scope, [customer_id], ("id", "name", "company"))).get(customer_id)
        row = seen or {"id": customer_id, "name": "—", "company": None}
        return render(admin.request, "_pool_row.html", {"row": row, "claimed": False, "errors": error.errors}, 400, admin)
    if not admin.request.headers.get("hx-request"):
        return RedirectResponse("/admin/today", status_code=303)
    return render(admin.request, "_pool_row.html", {"row": row, "claimed": True, "errors": []}, admin=admin)
