"""A customer's loyalty in the admin: balance, level, what expires soon, the ledger and level
history on the customer's page, and points redeemed or adjusted in place (htmx)."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from models import loyalty
from models.errors import DomainError, ErrorCode, FieldError
from models.pagination import PageArgs
from server.admin.complaints import labels
from server.admin.pages import Admin, input_errors, page, path_id, render
from server.i18n import gettext as _

__all__ = ["adjust", "loyalty_section", "redeem"]

_RECENT = PageArgs(first=15)


async def loyalty_section(admin: Admin, customer_id: int) -> dict[str, Any]:
    """What the customer page's loyalty section shows."""
    found = (await loyalty.loyalty(admin.scope, [customer_id])).get(customer_id) or loyalty.Loyalty()
    return {
        "customer_id": customer_id,
        "loyalty": found,
        "ledger": (await loyalty.points_pages(admin.scope, [customer_id], _RECENT))[customer_id].rows,
        "level_changes": (await loyalty.level_changes(admin.scope, [customer_id])).get(customer_id, []),
        "labels": labels(),
        "errors": [],
        "notice": None,
    }


_WHOLE = re.compile(r"-?[0-9]{1,12}")


def _points(raw: str) -> int:
    raw = raw.strip()
    if not _WHOLE.fullmatch(raw):
        raise DomainError.single("points", _("points must be a whole number."), ErrorCode.INVALID)
    return int(raw)


async def _write(admin: Admin, operation) -> Response:
    """``operation`` on the customer's points with the form's points and reason; the section again."""
    customer_id = path_id(admin.request)
    errors: list[FieldError] = []
    notice = None
    try:
        entry = await operation(admin.scope, customer_id, _points(admin.form.get("points") or ""), admin.form.get("reason"))
        notice = _("Written: %(points)+d points.") % {"points": entry["points"]}
    except DomainError as error:
        errors = input_errors(error)
    context = await loyalty_section(admin, customer_id)
    return render(admin.request, "_loyalty.html", {**context, "errors": errors, "notice": notice}, 400 if errors else 200, admin)


@page
async def redeem(admin: Admin) -> Response:
    return await _write(admin, loyalty.redeem_points)


@page
async def adjust(admin: Admin) -> Response:
    return await _write(admin, loyalty.adjust_points)
