"""The rules in the admin (customer.configure): tiers, churn, recurrence, the pool, loyalty, exchange rates.

One form a section, made from the section's settings (models/rules.py); a change is checked
whole and kept whole, and a change of the tier rules recomputes every segment at once.
"""

from __future__ import annotations

from starlette.responses import Response

from models import rules
from models.errors import DomainError, ErrorCode, FieldError
from models.settings import spelled
from server.admin.pages import Admin, input_errors, page, render
from server.i18n import gettext as _

__all__ = ["edit", "set_rate", "update"]


def _titles() -> dict[str, str]:
    return {
        "segments": _("Tiers and lifecycle stages"), "churn": _("Churn early warning"),
        "follow_ups": _("Follow-up recurrence"), "pool": _("Public pool"), "loyalty": _("Loyalty points and membership"),
    }


def _labels() -> dict[str, dict[str, str]]:
    """Each setting as the form names it, in the page's language."""
    return {
        "segments": {
            "window_days": _("Frequency and monetary count the paid orders of this many days"),
            "touch_days": _("Interactions of this many days count towards Active"),
            "dormant_days": _("Dormant after this many days without a paid order"),
            "vip_recency": _("VIP needs a recency score of at least"),
            "vip_monetary": _("VIP needs a monetary score of at least"),
            "active_days": _("Active with a paid order within this many days"),
            "active_touches": _("Or Active with at least this many interactions"),
            "new_days": _("New customer while the first paid order is at most this many days old"),
            "loyal_orders": _("Loyal from this many paid orders"),
            "at_risk_days": _("At risk after this many days without a paid order"),
            "churned_days": _("Churned after this many days without a paid order"),
        },
        "churn": {
            "threshold_days": _("At risk after this many days without a paid order, at the least"),
            "k": _("Or after this many times the customer's own median gap between paid orders"),
            "min_orders": _("Paid orders needed before the customer's own gap counts"),
            "follow_up_days": _("The owner's follow-up is due this many days after the alert"),
        },
        "follow_ups": {
            "vip_days": _("Days to a VIP customer's next follow-up (empty: none)"),
            "active_days": _("Days to an Active customer's next follow-up (empty: none)"),
            "potential_days": _("Days to a Potential customer's next follow-up (empty: none)"),
            "dormant_days": _("Days to a Dormant customer's next follow-up (empty: none)"),
        },
        "pool": {
            "vip_days": _("A VIP customer goes to the pool after this many days without its owner's touch (empty: never)"),
            "active_days": _("An Active customer goes to the pool after this many days without its owner's touch (empty: never)"),
            "potential_days": _("A Potential customer goes to the pool after this many days without its owner's touch (empty: never)"),
            "dormant_days": _("A Dormant customer goes to the pool after this many days without its owner's touch (empty: never)"),
            "claims_per_day": _("The most customers one person may claim a day"),
        },
        "loyalty": {
            "points_per_yuan": _("Points earned per yuan of a paid order (0: none)"),
            "referral_points": _("Points to the referrer when a referred customer pays their first order (0: off)"),
            "referral_min_amount": _("A first order rewards the referrers from this many yuan"),
            "second_level_points": _("Points to the referrer's referrer then (0: off)"),
            "expiry_days": _("Points expire this many days after they were earned (empty: never)"),
            "notice_days": _("Points expiring within this many days are shown as expiring soon"),
            "silver_points": _("Silver from this many points earned in the last 12 months"),
            "gold_points": _("Gold from this many points earned in the last 12 months"),
            "platinum_points": _("Platinum from this many points earned in the last 12 months"),
        },
    }


async def _show(admin: Admin, status: int = 200, errors: list | None = None, notice: str | None = None,
                section: str | None = None) -> Response:
    admin.scope.require("customer.configure")  # a page for changing them; the API reads them with customer.read
    sections = await rules.rules(admin.scope)
    return render(admin.request, "rules.html", {
        "sections": [(name, _titles()[name], rules.fields_of(name), sections[name]) for name in rules.SECTIONS],
        "labels": _labels(), "rates": await rules.exchange_rates(admin.scope), "errors": errors or [],
        "notice": notice, "section": section, "spelled": spelled,
    }, status, admin)


@page
async def edit(admin: Admin) -> Response:
    return await _show(admin)


@page
async def update(admin: Admin) -> Response:
    admin.scope.require("customer.configure")
    section = admin.form.get("section") or ""
    if section not in rules.SECTIONS:
        return await _show(admin, 400, [FieldError("section", _("no such section of rules."), ErrorCode.INVALID)])
    values = {field.name: (admin.form.get(field.name) or "").strip()[:20] for field in rules.fields_of(section)}
    try:
        await rules.update_rules(admin.scope, {section: values})
    except DomainError as error:
        return await _show(admin, 400, input_errors(error), section=section)
    return await _show(admin, notice=_("Saved."), section=section)


@page
async def set_rate(admin: Admin) -> Response:
    form = admin.form
    try:
        await rules.set_exchange_rate(admin.scope, form.get("currency") or "", (form.get("rate") or "").strip()[:30] or None)
    except DomainError as error:
        return await _show(admin, 400, input_errors(error))
    return await _show(admin, notice=_("Saved."))
