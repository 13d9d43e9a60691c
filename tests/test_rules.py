"""The rules for whom to call: checked all or nothing, audited, in force at once; exchange rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from models import churn, follow_ups, pool, rules, segments, settings
from models.audit import AuditEvent
from models.customers import create_customer
from models.errors import DomainError
from models.orders import Order
from models.scope import Scope
from models.segments import CustomerSegment, ExchangeRate
from models.settings import Setting
from tests.conftest import ask, staff

SYSTEM = Scope.of_system()


async def test_defaults_then_changes_all_or_nothing(clean_db):
    before = await rules.rules(SYSTEM)
    assert before["segments"].dormant_days == 120 and before["churn"].threshold_days == 113
    assert before["follow_ups"].vip_days == 30 and before["pool"].vip_days is None and before["pool"].claims_per_day == 10
    with pytest.raises(DomainError) as refused:
        await rules.update_rules(SYSTEM, {
            "churn": {"threshold_days": 200},  # fine alone
            "segments": {"vip_recency": 9, "nonsense": 1},
            "pool": {"claims_per_day": "many"},
        })
    assert {(e.field, e.code.value) for e in refused.value.errors} == {
        ("vipRecency", "invalid"), ("nonsense", "invalid"), ("claimsPerDay", "invalid")}
    assert await Setting.all().count() == 0  # nothing kept
    with pytest.raises(DomainError) as crossed:
        await rules.update_rules(SYSTEM, {"segments": {"active_days": 150}})  # not below dormant (120)
    assert crossed.value.errors[0].field == "activeDays"

    after = await rules.update_rules(SYSTEM, {"churn": {"threshold_days": 200, "k": 2.5}, "pool": {"vip_days": 60, "dormant_days": None}})
    assert after["churn"].threshold_days == 200 and after["churn"].k == 2.5 and after["pool"].vip_days == 60
    assert (await settings.current(churn.Rules)).threshold_days == 200
    assert (await Setting.get(key="churn")).value == {"threshold_days": 200, "k": 2.5}
    # Back to the default: nothing stored for it.
    await rules.update_rules(SYSTEM, {"churn": {"threshold_days": 113}})
    assert (await Setting.get(key="churn")).value == {"k": 2.5}
    events = await AuditEvent.filter(action="setting.change").order_by("id").values("changes")
    assert events[0]["changes"] == {"churn.threshold_days": {"from": 113, "to": 200}, "churn.k": {"from": 2.0, "to": 2.5}}
    assert events[1]["changes"] == {"pool.vip_days": {"from": None, "to": 60}}


async def test_changed_tier_rules_recompute_the_segments_and_their_reasons(clean_db):
    customer = (await create_customer(SYSTEM, {"name": "a buyer"}))["id"]
    await Order.create(customer_id=customer, amount=Decimal("10"), currency="CNY", status="paid",
                       placed_at=datetime.now(UTC) - timedelta(days=100))
    await segments.recompute()
    assert (await CustomerSegment.get(customer_id=customer)).tier == "potential"
    await rules.update_rules(SYSTEM, {"segments": {"dormant_days": 60, "active_days": 30}})
    assert (await CustomerSegment.get(customer_id=customer)).tier == "dormant"
    row = (await segments.segments_by_customer(SYSTEM, [customer]))[customer]
    assert segments.reasons(row, "en")[0].text == "last paid order 100 days ago (dormant after 60)"


async def test_recurrence_and_churn_follow_the_stored_rules(clean_db):
    await rules.update_rules(SYSTEM, {"follow_ups": {"active_days": None, "potential_days": 14}})
    recurrence = await settings.current(follow_ups.Recurrence)
    assert (recurrence.vip_days, recurrence.active_days, recurrence.potential_days) == (30, None, 14)
    assert (await settings.current(pool.Rules)).days() == {}


async def test_only_configurers_change_rules_and_rates_through_the_api(clean_db, as_user):
    reader = as_user(await staff("reader@example.com", ["customer.read"], "ALL"))
    configurer = as_user(await staff("boss@example.com", ["customer.read", "customer.configure"], "ALL"))
    read = "{ rules { segments { dormantDays vipRecency } pool { vipDays claimsPerDay } followUps { vipDays } } exchangeRates { currency rate } }"
    assert (await ask(reader, read))["data"] == {
        "rules": {"segments": {"dormantDays": 120, "vipRecency": 4}, "pool": {"vipDays": None, "claimsPerDay": 10},
                  "followUps": {"vipDays": 30}},
        "exchangeRates": [],
    }
    update = "mutation($i: UpdateRulesInput!) { updateRules(input: $i) { rules { pool { vipDays claimsPerDay } } errors { field code } } }"
    refused = (await ask(reader, update, {"i": {"pool": {"vipDays": 30}}}))["data"]["updateRules"]
    assert refused == {"rules": None, "errors": [{"field": None, "code": "FORBIDDEN"}]}
    changed = (await ask(configurer, update, {"i": {"pool": {"vipDays": 30}}}))["data"]["updateRules"]
    assert changed == {"rules": {"pool": {"vipDays": 30, "claimsPerDay": 10}}, "errors": []}
    bad = (await ask(configurer, update, {"i": {"pool": {"vipDays": 0}}}))["data"]["updateRules"]
    assert bad["errors"] == [{"field": "vipDays", "code": "INVALID"}] and (await settings.current(pool.Rules)).vip_days == 30
    off = (await ask(configurer, update, {"i": {"pool": {"vipDays": None}}}))["data"]["updateRules"]
    assert off["rules"]["pool"]["vipDays"] is None

    rate = "mutation($c: String!, $r: Decimal) { setExchangeRate(input: {currency: $c, rate: $r}) { exchangeRates { currency rate } errors { field code } } }"
    assert (await ask(reader, rate, {"c": "USD", "r": "7.1"}))["data"]["setExchangeRate"]["errors"][0]["code"] == "FORBIDDEN"
    set_ = (await ask(configurer, rate, {"c": "usd", "r": "7.1"}))["data"]["setExchangeRate"]
    assert set_ == {"exchangeRates": [{"currency": "USD", "rate": "7.1"}], "errors": []}
    for currency, value, field in (("CNY", "1", "currency"), ("XXQ", "1", "currency"), ("EUR", "-2", "rate"), ("EUR", "0.000000001", "rate")):
        refused = (await ask(configurer, rate, {"c": currency, "r": value}))["data"]["setExchangeRate"]
        assert refused["errors"][0]["field"] == field, (currency, value)
    removed = (await ask(configurer, rate, {"c": "USD", "r": None}))["data"]["setExchangeRate"]
    assert removed == {"exchangeRates": [], "errors": []} and await ExchangeRate.all().count() == 0
    assert await AuditEvent.filter(action="exchange_rate.set").count() == 2
