"""The rules an admin keeps for whom to call (客户分级与维护), by section, and the exchange rates.

One place for the API and the admin to read and change them: ``SECTIONS`` names each kind of
settings (models/settings.py), ``update_rules`` changes any of them at once, all or nothing,
and recomputes the segments when their rules changed, so that a stored tier is always the one
its reasons tell. Exchange rates turn other currencies into the base one for the monetary score.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.transactions import in_transaction

from models import churn, follow_ups, loyalty, pool, segments, settings
from models.audit import record
from models.errors import DomainError, ErrorCode
from models.scope import Scope, requires
from models.segments import BASE_CURRENCY, ExchangeRate
from models.validation import clean_currency

__all__ = ["SECTIONS", "exchange_rates", "fields_of", "rules", "set_exchange_rate", "update_rules"]

SECTIONS: dict[str, type] = {
    "segments": segments.Rules,
    "churn": churn.Rules,
    "follow_ups": follow_ups.Recurrence,
    "pool": pool.Rules,
    "loyalty": loyalty.Rules,
}
"""Each section of the rules by name, in the order the admin shows them."""


def fields_of(section: str) -> list[dataclasses.Field]:
    """The settings of a section, each with its bounds and ``doc`` in ``metadata``."""
    return list(dataclasses.fields(SECTIONS[section]))


@requires("customer.read")
async def rules(scope: Scope) -> dict[str, Any]:
    """Every section's rules in force."""
    return {name: await settings.current(kind) for name, kind in SECTIONS.items()}


@requires("customer.configure")
async def update_rules(scope: Scope, changes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Change rules of any sections at once; refused whole when any value is wrong."""
    if unknown := sorted(set(changes) - set(SECTIONS)):
        raise DomainError.single(unknown[0], f"no section of rules called {unknown[0]}.", ErrorCode.INVALID)
    changed = await settings.change(scope, {SECTIONS[name]: values for name, values in changes.items()})
    if changes.get("segments"):
        await segments.recompute(rules=changed[segments.Rules])
    return {name: changed.get(kind) or await settings.current(kind) for name, kind in SECTIONS.items()}


@requires("customer.read")
async def exchange_rates(scope: Scope) -> list[dict[str, Any]]:
    """What one unit of each currency is worth in the base currency, by currency."""
    rows = await ExchangeRate.all().order_by("currency").values("currency", "rate", "updated_at")
    return [{**row, "rate": Decimal(format(Decimal(row["rate"]).normalize(), "f"))} for row in rows]


MAX_RATE = Decimal("1000000")


@requires("customer.configure")
async def set_exchange_rate(scope: Scope, currency: Any, rate: Any) -> list[dict[str, Any]]:
    """Set a currency's rate, or remove it (``rate`` None): its orders then count in no monetary score."""
    code = clean_currency(currency if isinstance(currency, str) else "")
    if code == BASE_CURRENCY:
        raise DomainError.single("currency", f"{BASE_CURRENCY} is the base currency: its rate is 1.", ErrorCode.INVALID)
    value = None
    if rate is not None and rate != "":
        try:
            value = Decimal(str(rate).strip())
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or not Decimal(0) < value <= MAX_RATE or value.as_tuple().exponent < -8:
            raise DomainError.single("rate", f"a rate is a number above 0, up to {MAX_RATE}, with at most 8 decimals.", ErrorCode.INVALID)
    async with in_transaction() as connection:
        kept = await ExchangeRate.filter(currency=code).using_db(connection).select_for_update().first()
        before = {"currency": code, "rate": kept.rate} if kept else None
        if value is None:
            await ExchangeRate.filter(currency=code).using_db(connection).delete()
        elif kept is None:
            await ExchangeRate.create(currency=code, rate=value, using_db=connection)
        else:
            await ExchangeRate.filter(currency=code).using_db(connection).update(rate=value, updated_at=datetime.now(UTC))
        after = {"currency": code, "rate": value} if value is not None else None
        await record(scope, "exchange_rate.set", "exchange_rate", None, before=before, after=after, connection=connection)
    return await exchange_rates(scope)
