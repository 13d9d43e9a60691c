"""Loyalty: points earned on payment, two-level referral rewards paid once, refunds taken back,
expiry oldest first, redemptions that never overdraw, membership levels, scope and the API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from models import db, loyalty, settings
from models.access import User, viewer_of
from models.audit import AuditEvent
from models.customers import Customer, create_customer
from models.errors import DomainError, ErrorCode
from models.loyalty import Level, LevelChange, Membership, PointsEntry
from models.orders import Order, change_order_status, record_order
from models.scope import Scope
from models.segments import ExchangeRate
from models.staff import create_team
from schema.ids import to_global_id
from tests.conftest import ask, bearer_for_user, staff_member

SYSTEM = Scope.of_system()
LOYALTY = """
query($id: ID!) { customer(id: $id) { loyalty { balance level pointsEarned12m expiringSoon { points on } } } }
"""
LEDGER = """
query($id: ID!) { customer(id: $id) { pointsLedger(first: 20) { totalCount edges { node {
  kind points reason referralLevel referredCustomer { name } order { amount } lot { kind points } } } } } }
"""
REDEEM = """
mutation($input: RedeemPointsInput!) {
  redeemPoints(input: $input) { entry { kind points reason customer { loyalty { balance } } } errors { field code message } }
}
"""
ADJUST = "mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) { entry { kind points } errors { field code } } }"
STATUS = """
mutation($input: ChangeOrderStatusInput!) { changeOrderStatus(input: $input) { order { status paidAt } errors { field code } } }
"""
SELLER = ["customer.read", "order.create", "order.update", "loyalty.redeem"]


async def _customer(name: str, referrer: int | None = None, team: int | None = None) -> int:
    made = await create_customer(SYSTEM, {"name": name}, referrer_id=referrer)
    if team is not None:
        await Customer.filter(id=made["id"]).update(team_id=team)
    return made["id"]


async def _pay(customer: int, amount: str, currency: str = "CNY") -> dict:
    return await record_order(SYSTEM, customer, {"amount": Decimal(amount), "currency": currency, "status": "paid"})


async def _balance(customer: int) -> int:
    return sum(entry.points for entry in await PointsEntry.filter(customer_id=customer))


async def _ledger(customer: int) -> list[tuple[str, int]]:
    return [(e.kind.value, e.points) for e in await PointsEntry.filter(customer_id=customer).order_by("id")]


async def test_a_paid_order_earns_points_by_the_rate_in_the_base_currency(clean_db):
    buyer = await _customer("王芳")
    await _pay(buyer, "199.90")
    await ExchangeRate.create(currency="USD", rate=Decimal("7.1"), updated_at=datetime.now(UTC))
    await _pay(buyer, "10.00", "USD")
    await _pay(buyer, "500", "JPY")  # no rate: nothing earned, the order still recorded
    await record_order(SYSTEM, buyer, {"amount": Decimal("300"), "currency": "CNY"})  # pending: nothing yet
    assert await _ledger(buyer) == [("earn", 199), ("earn", 71)]
    await settings.change(SYSTEM, {loyalty.Rules: {"points_per_yuan": 2.5}})
    await _pay(buyer, "10")
    assert (await _ledger(buyer))[-1] == ("earn", 25)
    entry = await PointsEntry.filter(customer_id=buyer).order_by("id").first()
    assert entry.expires_at - entry.at == timedelta(days=365)
    assert await Order.filter(customer_id=buyer).count() == 5


async def test_a_first_payment_rewards_the_referrer_and_the_referrers_referrer_once(clean_db):
    grand = await _customer("祖")
    parent = await _customer("父", referrer=grand)
    child = await _customer("子", referrer=parent)
    first = await _pay(child, "100")
    assert await _ledger(parent) == [("referral", 100)] and await _ledger(grand) == [("referral", 50)]
    rewards = await PointsEntry.filter(kind="referral").order_by("level")
    assert [(r.referred_id, r.level, r.order_id) for r in rewards] == [(child, 1, first["id"]), (child, 2, first["id"])]
    await _pay(child, "100")
    assert await _ledger(parent) == [("referral", 100)] and await _ledger(grand) == [("referral", 50)]
    # The parent's own first payment rewards the grandparent (level 1) only: nobody above it.
    await _pay(parent, "100")
    assert await _ledger(grand) == [("referral", 50), ("referral", 100)]
    # 0 turns a level off.
    await settings.change(SYSTEM, {loyalty.Rules: {"second_level_points": 0}})
    other = await _customer("孙", referrer=child)
    await _pay(other, "200")
    assert await _ledger(child) == [("earn", 100), ("earn", 100), ("referral", 100)]
    assert await _ledger(parent) == [("referral", 100), ("earn", 100)]


async def test_a_first_order_below_the_minimum_rewards_nobody_and_uses_up_the_first_payment(clean_db):
    parent = await _customer("父")
    child = await _customer("子", referrer=parent)
    await _pay(child, "99.99")  # below the 100 yuan the rules ask of a first order
    await _pay(child, "500")  # no longer the first payment
    assert await _ledger(parent) == []
    audited = await AuditEvent.filter(action="loyalty.referral").count()
    assert audited == 0


async def test_a_customer_who_paid_before_being_referred_earns_the_referrer_nothing(clean_db):
    referrer = await _customer("介绍人")
    late = await _customer("老客户")
    await _pay(late, "10")
    await Customer.filter(id=late).update(referrer_id=referrer)
    await _pay(late, "10")
    assert await _ledger(referrer) == []


async def test_payments_recorded_at_once_reward_the_referrers_once(clean_db):
    grand = await _customer("祖")
    parent = await _customer("父", referrer=grand)
    child = await _customer("子", referrer=parent)
    pending = [await record_order(SYSTEM, child, {"amount": Decimal("150"), "currency": "CNY"}) for _ in range(4)]
    results = await asyncio.gather(
        *(change_order_status(SYSTEM, order["id"], "paid") for order in pending),
        # the same order paid twice at once: one payment wins
        change_order_status(SYSTEM, pending[0]["id"], "paid"), return_exceptions=True,
    )
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(lost) == 1 and lost[0].errors[0].code is ErrorCode.INVALID_TRANSITION
    assert not [r for r in results if isinstance(r, BaseException) and not isinstance(r, DomainError)]
    assert await _ledger(parent) == [("referral", 100)] and await _ledger(grand) == [("referral", 50)]
    assert sorted(await _ledger(child)) == [("earn", 150)] * 4


async def test_a_refund_takes_back_the_points_and_rewards_and_may_leave_a_debt_that_blocks_redemption(clean_db):
    parent = await _customer("父")
    child = await _customer("子", referrer=parent)
    order = await _pay(child, "300")
    await loyalty.redeem_points(SYSTEM, child, 250, "兑换礼品")
    refunded = await change_order_status(SYSTEM, order["id"], "refunded")
    assert refunded["status"] == "refunded"
    assert await _ledger(child) == [("earn", 300), ("redeem", -250), ("reversal", -300)]
    assert await _ledger(parent) == [("referral", 100), ("reversal", -100)]
    assert await _balance(child) == -250
    with pytest.raises(DomainError) as refused:
        await loyalty.redeem_points(SYSTEM, child, 1, "再兑换")
    assert refused.value.errors[0].code is ErrorCode.INSUFFICIENT_POINTS
    # Refunded twice: refused, nothing taken twice; a refunded order is not paid again.
    for status in ("refunded", "paid"):
        with pytest.raises(DomainError) as again:
            await change_order_status(SYSTEM, order["id"], status)
        assert again.value.errors[0].code is ErrorCode.INVALID_TRANSITION
    assert len(await _ledger(child)) == 3
    # The next points earned pay the debt off first; a later first payment does not reward again.
    await _pay(child, "260")
    assert await _balance(child) == 10 and await _ledger(parent) == [("referral", 100), ("reversal", -100)]


async def _entry(customer: int, kind: str, points: int, at: datetime, expires: int | None = 365) -> None:
    await PointsEntry.create(customer_id=customer, kind=kind, points=points, at=at,
                             expires_at=at + timedelta(days=expires) if points > 0 and expires else None)


async def test_points_expire_oldest_first_and_redemption_spends_the_oldest(clean_db):
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    spent, kept = await _customer("花了"), await _customer("没花")
    for customer in (spent, kept):
        await _entry(customer, "earn", 100, t0)
        await _entry(customer, "earn", 50, t0 + timedelta(days=100))
    await _entry(spent, "redeem", -120, t0 + timedelta(days=200))
    await _entry(kept, "redeem", -30, t0 + timedelta(days=200))
    swept = await loyalty.sweep(t0 + timedelta(days=366))
    # The redemption spent the first lot (100) and 20 of the second: nothing of the first is left.
    assert await _ledger(spent) == [("earn", 100), ("earn", 50), ("redeem", -120)]
    assert await _ledger(kept) == [("earn", 100), ("earn", 50), ("redeem", -30), ("expire", -70)]
    assert swept.expired == 70
    assert (await loyalty.sweep(t0 + timedelta(days=367))).expired == 0  # nothing twice
    await loyalty.sweep(t0 + timedelta(days=466))
    assert (await _ledger(spent))[-1] == ("expire", -30) and (await _ledger(kept))[-1] == ("expire", -50)
    assert await _balance(spent) == 0 and await _balance(kept) == 0


async def test_sweeps_at_once_expire_once(clean_db):
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    customers = [await _customer(f"c{i}") for i in range(5)]
    for customer in customers:
        await _entry(customer, "earn", 10, t0)
    await asyncio.gather(*(loyalty.sweep(t0 + timedelta(days=400)) for _ in range(3)))
    assert await PointsEntry.filter(kind="expire").count() == 5
    assert [await _balance(customer) for customer in customers] == [0] * 5


async def test_redemptions_that_race_never_overdraw(clean_db):
    buyer = await _customer("抢兑")
    await _pay(buyer, "100")
    results = await asyncio.gather(*(loyalty.redeem_points(SYSTEM, buyer, 80, "礼品") for _ in range(3)), return_exceptions=True)
    assert sum(isinstance(r, dict) for r in results) == 1
    assert all(r.errors[0].code is ErrorCode.INSUFFICIENT_POINTS for r in results if not isinstance(r, dict))
    assert await _ledger(buyer) == [("earn", 100), ("redeem", -80)]


async def test_levels_are_promoted_and_demoted_in_the_sweep(clean_db):
    await settings.change(SYSTEM, {loyalty.Rules: {"silver_points": 100, "gold_points": 500, "platinum_points": 1000}})
    now = datetime.now(UTC)
    rising, quiet = await _customer("升"), await _customer("静")
    await _pay(rising, "600")
    await _pay(quiet, "50")
    swept = await loyalty.sweep(now)
    assert (swept.promoted, swept.demoted) == (1, 0)
    assert (await Membership.get(customer_id=rising)).level is Level.GOLD
    assert not await Membership.filter(customer_id=quiet).exists()
    await loyalty.adjust_points(SYSTEM, rising, 500, "周年礼")
    assert (await loyalty.sweep(now + timedelta(minutes=1))).promoted == 1
    assert (await Membership.get(customer_id=rising)).level is Level.PLATINUM
    # A year on, the points have left the 12 months: the next day's sweep demotes.
    swept = await loyalty.sweep(now + timedelta(days=366))
    assert (swept.promoted, swept.demoted) == (0, 1)
    changes = [(c.from_level, c.to_level, c.points) for c in await LevelChange.filter(customer_id=rising).order_by("id")]
    assert changes == [(Level.MEMBER, Level.GOLD, 600), (Level.GOLD, Level.PLATINUM, 1100), (Level.PLATINUM, Level.MEMBER, 0)]


async def test_the_ledger_is_append_only(clean_db):
    buyer = await _customer("账本")
    await _pay(buyer, "10")
    for sql in ("UPDATE points_entry SET points = 1000", "DELETE FROM points_entry"):
        with pytest.raises(Exception, match="append-only"):  # noqa: B017 (each driver raises its own)
            await db.connection().execute_script(sql)
    assert await _ledger(buyer) == [("earn", 10)]


async def test_loyalty_and_ledger_through_the_api_within_scope(clean_db, as_user):
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    seller = as_user(await bearer_for_user((await staff_member("east@example.com", SELLER, "TEAM", east))["id"]))
    referrer = await _customer("东客", team=east)
    hidden = await _customer("西客", referrer=referrer, team=west)
    await _pay(hidden, "142")
    await _pay(referrer, "8")
    gid = to_global_id("Customer", referrer)
    shown = (await ask(seller, LOYALTY, {"id": gid}))["data"]["customer"]["loyalty"]
    expires = (datetime.now(UTC) + timedelta(days=365)).date()
    assert shown == {"balance": 108, "level": "MEMBER", "pointsEarned12m": 108, "expiringSoon": []}
    ledger = (await ask(seller, LEDGER, {"id": gid}))["data"]["customer"]["pointsLedger"]
    assert ledger["totalCount"] == 2
    # The reward names the referred customer only to who sees them, and its order neither.
    assert [edge["node"] for edge in ledger["edges"]] == [
        {"kind": "EARN", "points": 8, "reason": None, "referralLevel": None, "referredCustomer": None, "order": {"amount": "8.00"}, "lot": None},
        {"kind": "REFERRAL", "points": 100, "reason": None, "referralLevel": 1, "referredCustomer": None, "order": None, "lot": None},
    ]
    assert (await ask(seller, LOYALTY, {"id": to_global_id("Customer", hidden)}))["data"]["customer"] is None
    refused = (await ask(seller, REDEEM, {"input": {"customerId": to_global_id("Customer", hidden), "points": 1, "reason": "x"}}))
    assert refused["data"]["redeemPoints"]["errors"][0]["code"] == "NOT_FOUND"
    hidden_entry = await PointsEntry.get(customer_id=hidden)
    node = await ask(seller, "query($id: ID!) { node(id: $id) { id } }", {"id": to_global_id("PointsEntry", hidden_entry.id)})
    assert node["data"]["node"] is None
    # Points expiring within the notice period.
    await settings.change(SYSTEM, {loyalty.Rules: {"notice_days": 365}})
    soon = (await ask(seller, LOYALTY, {"id": gid}))["data"]["customer"]["loyalty"]["expiringSoon"]
    assert soon == [{"points": 108, "on": str(expires)}]
    assert await _ledger(hidden) == [("earn", 142)]


async def test_redeem_and_adjust_check_permissions_and_input_and_change_nothing_when_refused(clean_db, as_user):
    seller = as_user(await bearer_for_user((await staff_member("s@example.com", SELLER))["id"]))
    reader = as_user(await bearer_for_user((await staff_member("r@example.com", ["customer.read"]))["id"]))
    buyer = await _customer("兑换")
    await _pay(buyer, "100")
    gid = to_global_id("Customer", buyer)
    done = (await ask(seller, REDEEM, {"input": {"customerId": gid, "points": 30, "reason": "咖啡券", "idempotencyKey": "r-1"}}))
    assert done["data"]["redeemPoints"] == {
        "entry": {"kind": "REDEEM", "points": -30, "reason": "咖啡券", "customer": {"loyalty": {"balance": 70}}}, "errors": [],
    }
    replay = (await ask(seller, REDEEM, {"input": {"customerId": gid, "points": 30, "reason": "咖啡券", "idempotencyKey": "r-1"}}))
    assert replay["data"]["redeemPoints"]["entry"]["points"] == -30
    cases = [
        (seller, REDEEM, {"points": 71, "reason": "x"}, "points", "INSUFFICIENT_POINTS"),
        (seller, REDEEM, {"points": 0, "reason": "x"}, "points", "INVALID"),
        (seller, REDEEM, {"points": -5, "reason": "x"}, "points", "INVALID"),
        (seller, REDEEM, {"points": 200_000_000, "reason": "x"}, "points", "INVALID"),
        (seller, REDEEM, {"points": 5, "reason": "  "}, "reason", "REQUIRED"),
        (seller, ADJUST, {"points": 5, "reason": "x"}, None, "FORBIDDEN"),
        (reader, REDEEM, {"points": 5, "reason": "x"}, None, "FORBIDDEN"),
    ]
    for http, mutation, given, field, code in cases:
        answer = await ask(http, mutation, {"input": {"customerId": gid, **given}})
        (errors,) = [value["errors"] for value in answer["data"].values()]
        assert (errors[0]["field"], errors[0]["code"]) == (field, code), given
    assert await _ledger(buyer) == [("earn", 100), ("redeem", -30)]
    adjuster = as_user(await bearer_for_user((await staff_member("a@example.com", ["customer.read", "loyalty.adjust"]))["id"]))
    over = await ask(adjuster, ADJUST, {"input": {"customerId": gid, "points": -71, "reason": "更正"}})
    assert over["data"]["adjustPoints"]["errors"] == [{"field": "points", "code": "INSUFFICIENT_POINTS"}]
    took = await ask(adjuster, ADJUST, {"input": {"customerId": gid, "points": -70, "reason": "更正"}})
    assert took["data"]["adjustPoints"] == {"entry": {"kind": "ADJUST", "points": -70}, "errors": []}
    assert await _balance(buyer) == 0


async def test_order_status_changes_through_the_api(clean_db, as_user):
    seller = as_user(await bearer_for_user((await staff_member("s@example.com", SELLER))["id"]))
    buyer = await _customer("付款")
    order = await record_order(SYSTEM, buyer, {"amount": Decimal("88"), "currency": "CNY"})
    oid = to_global_id("Order", order["id"])
    bad = await ask(seller, STATUS, {"input": {"id": oid, "status": "REFUNDED"}})
    assert bad["data"]["changeOrderStatus"] == {"order": None, "errors": [{"field": "status", "code": "INVALID_TRANSITION"}]}
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    wrong = await ask(seller, STATUS, {"input": {"id": oid, "status": "PAID", "paidAt": future}})
    assert wrong["data"]["changeOrderStatus"]["errors"] == [{"field": "paidAt", "code": "INVALID"}]
    paid = await ask(seller, STATUS, {"input": {"id": oid, "status": "PAID"}})
    assert paid["data"]["changeOrderStatus"]["order"]["status"] == "PAID"
    assert await _ledger(buyer) == [("earn", 88)]
    refunded = await ask(seller, STATUS, {"input": {"id": oid, "status": "REFUNDED"}})
    assert refunded["data"]["changeOrderStatus"]["order"]["status"] == "REFUNDED"
    assert await _ledger(buyer) == [("earn", 88), ("reversal", -88)]
    reader = as_user(await bearer_for_user((await staff_member("r@example.com", ["customer.read"]))["id"]))
    other = await record_order(SYSTEM, buyer, {"amount": Decimal("1"), "currency": "CNY"})
    refused = await ask(reader, STATUS, {"input": {"id": to_global_id("Order", other["id"]), "status": "CANCELLED"}})
    assert refused["data"]["changeOrderStatus"]["errors"][0]["code"] == "FORBIDDEN"
    assert (await Order.get(id=other["id"])).status == "pending"


async def test_a_refund_takes_back_what_its_own_points_still_hold_not_what_expired_nor_older_points(clean_db):
    t0 = datetime.now(UTC) - timedelta(days=400)
    expired, older = await _customer("过期后退款"), await _customer("旧积分")
    late = await record_order(SYSTEM, expired, {"amount": Decimal("100"), "currency": "CNY", "status": "paid", "placed_at": t0})
    assert (await PointsEntry.get(order_id=late["id"])).at == t0  # earned when it was paid
    await loyalty.sweep()
    assert await _ledger(expired) == [("earn", 100), ("expire", -100)]
    await change_order_status(SYSTEM, late["id"], "refunded")
    assert await _ledger(expired) == [("earn", 100), ("expire", -100)] and await _balance(expired) == 0
    # A refund takes from its own lot, so an older lot still expires when its time comes.
    await _entry(older, "adjust", 100, datetime.now(UTC) - timedelta(days=300), expires=310)
    fresh = await _pay(older, "300")
    await change_order_status(SYSTEM, fresh["id"], "refunded")
    reversal = await PointsEntry.get(customer_id=older, kind="reversal")
    assert reversal.points == -300 and reversal.lot_id == (await PointsEntry.get(order_id=fresh["id"], kind="earn")).id
    await loyalty.sweep(datetime.now(UTC) + timedelta(days=11))
    assert (await _ledger(older))[-1] == ("expire", -100) and await _balance(older) == 0


async def test_a_backdated_payment_earns_as_of_its_payment_and_a_referral_counts_from_when_it_was_made(clean_db):
    parent = await _customer("父")
    child = await _customer("子")
    placed = datetime.now(UTC) - timedelta(days=20)
    order = await record_order(SYSTEM, child, {"amount": Decimal("300"), "currency": "CNY", "placed_at": placed})
    await Customer.filter(id=child).update(referrer_id=parent, referred_at=datetime.now(UTC) - timedelta(days=5))
    await change_order_status(SYSTEM, order["id"], "paid", placed + timedelta(days=1))
    earned = await PointsEntry.get(customer_id=child)
    assert earned.at == placed + timedelta(days=1) and earned.expires_at == placed + timedelta(days=366)
    assert await _ledger(parent) == []  # paid before the referral was made


async def test_referral_rewards_are_in_the_audit_log_with_who_recorded_the_payment(clean_db):
    parent = await _customer("父")
    child = await _customer("子", referrer=parent)
    recorder = await staff_member("cashier@example.com", ["customer.read", "order.create"])
    scope = await Scope.for_viewer(await viewer_of(await User.get(id=recorder["id"])))
    order = await record_order(scope, child, {"amount": Decimal("100"), "currency": "CNY", "status": "paid"})
    (event,) = await AuditEvent.filter(action="loyalty.referral")
    assert (event.customer_id, event.actor_user_id) == (parent, recorder["id"])
    await change_order_status(SYSTEM, order["id"], "refunded")
    assert await AuditEvent.filter(action="loyalty.reversal", customer_id=parent).count() == 1


async def test_huge_balances_are_read_whole(clean_db, as_user):
    reader = as_user(await bearer_for_user((await staff_member("r@example.com", ["customer.read"]))["id"]))
    rich = await _customer("大户")
    await _pay(rich, "3000000000")  # an order earns at most a billion points
    for _ in range(3):
        await loyalty.adjust_points(SYSTEM, rich, loyalty.MAX_POINTS, "补偿")
    shown = (await ask(reader, LOYALTY, {"id": to_global_id("Customer", rich)}))["data"]["customer"]["loyalty"]
    assert shown["balance"] == loyalty.MAX_EARNED + 3 * loyalty.MAX_POINTS == 1_300_000_000
    await loyalty.adjust_points(SYSTEM, rich, loyalty.MAX_POINTS, "补偿")
    for _ in range(9):
        await loyalty.adjust_points(SYSTEM, rich, loyalty.MAX_POINTS, "补偿")
    shown = (await ask(reader, LOYALTY, {"id": to_global_id("Customer", rich)}))["data"]["customer"]["loyalty"]
    assert shown["balance"] == 2_300_000_000 > 2**31 and shown["pointsEarned12m"] == 2_300_000_000


async def test_payments_refunds_redemptions_and_the_sweep_at_once_neither_deadlock_nor_overdraw(clean_db):
    t0 = datetime.now(UTC) - timedelta(days=400)
    people = [await _customer(f"c{i}") for i in range(6)]
    for person in people:
        await _entry(person, "earn", 100, t0)  # due to expire
    referred = [await _customer(f"r{i}", referrer=people[i % 6]) for i in range(6)]
    pending = [await record_order(SYSTEM, r, {"amount": Decimal("150"), "currency": "CNY"}) for r in referred]
    paid_before = [await _pay(person, "50") for person in people]
    work = [change_order_status(SYSTEM, order["id"], "paid") for order in pending]
    work += [change_order_status(SYSTEM, order["id"], "refunded") for order in paid_before]
    work += [loyalty.redeem_points(SYSTEM, person, 40, "礼品") for person in people]
    work += [loyalty.sweep()]
    results = await asyncio.gather(*work, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException) and not isinstance(r, DomainError)]
    assert failures == []
    # Whatever order they ran in: one reward per referral, nothing taken from a lot twice or beyond
    # what it held, and a redemption only where the balance then covered it.
    assert await PointsEntry.filter(kind="referral").count() == 6
    for person in people:
        lots = await PointsEntry.filter(customer_id=person, points__gt=0)
        for lot in lots:
            taken = await PointsEntry.filter(lot_id=lot.id).values_list("kind", "points")
            assert len({kind for kind, _ in taken}) == len(taken) and lot.points + sum(p for _, p in taken) >= 0
        redeemed = [r for r, person_ in zip(results[12:18], people, strict=True) if person_ == person]
        balance = await _balance(person)
        assert balance >= (-50 if isinstance(redeemed[0], dict) else 0)  # only a refund of spent points goes below 0
