"""Follow-ups and upcoming birthdays: scheduling, completing with an outcome, scope, and the calendar's edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from models import birthdays
from models.birthdays import celebrated_on
from models.customers import Customer, create_customer
from models.follow_ups import FollowUp
from models.interactions import Interaction
from models.scope import Scope
from models.staff import create_team
from tests.conftest import ask, bearer_for_user, staff_member

SYSTEM = Scope.of_system()
SCHEDULE = """
mutation($input: ScheduleFollowUpInput!) {
  scheduleFollowUp(input: $input) { followUp { id dueOn status purpose customer { name } } errors { field code } }
}
"""
COMPLETE = """
mutation($input: CompleteFollowUpInput!) {
  completeFollowUp(input: $input) { followUp { status outcome interaction { kind outcome summary } } errors { field code } }
}
"""
MINE = "query($before: Date) { myFollowUps(dueBefore: $before) { totalCount edges { node { purpose dueOn customer { name } } } } }"
WORKER = ["customer.read", "customer.pii", "interaction.create"]


async def _customer(name: str, team: int | None = None, **data) -> str:
    made = await create_customer(SYSTEM, {"name": name, **data})
    if team is not None:
        await Customer.filter(id=made["id"]).update(team_id=team)
    return __import__("schema.ids", fromlist=["x"]).to_global_id("Customer", made["id"])


async def test_a_follow_up_is_scheduled_done_with_an_outcome_and_logged(clean_db, as_user):
    me = await staff_member("sales@example.com", WORKER)
    http = as_user(await bearer_for_user(me["id"]))
    customer = await _customer("周杰")
    today = datetime.now(UTC).date()
    made = (await ask(http, SCHEDULE, {"input": {"customerId": customer, "dueOn": str(today), "purpose": "回访新品体验"}}))
    follow_up = made["data"]["scheduleFollowUp"]["followUp"]
    assert follow_up["status"] == "OPEN" and follow_up["customer"] == {"name": "周杰"}
    later = (await ask(http, SCHEDULE, {"input": {"customerId": customer, "dueOn": str(today + timedelta(days=30)), "purpose": "下月再访"}}))
    assert later["data"]["scheduleFollowUp"]["errors"] == []
    mine = (await ask(http, MINE, {"before": str(today + timedelta(days=1))}))["data"]["myFollowUps"]
    assert mine["totalCount"] == 1 and mine["edges"][0]["node"]["purpose"] == "回访新品体验"
    assert (await ask(http, MINE))["data"]["myFollowUps"]["totalCount"] == 2

    done = await ask(http, COMPLETE, {"input": {"id": follow_up["id"], "outcome": "很满意，想加购", "kind": "WECHAT"}})
    assert done["data"]["completeFollowUp"]["followUp"] == {
        "status": "DONE", "outcome": "很满意，想加购",
        "interaction": {"kind": "WECHAT", "outcome": "很满意，想加购", "summary": "回访新品体验"},
    }
    again = await ask(http, COMPLETE, {"input": {"id": follow_up["id"], "outcome": "again"}})
    assert again["data"]["completeFollowUp"]["errors"] == [{"field": "id", "code": "INVALID"}]
    assert await Interaction.all().count() == 1
    stored = await FollowUp.get(purpose="回访新品体验")
    assert stored.status == "done" and stored.interaction_id is not None


async def test_follow_ups_refuse_bad_input_and_hidden_customers(clean_db, as_user):
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    me = await staff_member("east@example.com", WORKER, "TEAM", east)
    outsider = await staff_member("west@example.com", WORKER, "TEAM", west)
    http = as_user(await bearer_for_user(me["id"]))
    seen, hidden = await _customer("东", east), await _customer("西", west)
    today = datetime.now(UTC).date()
    cases = [
        ({"customerId": hidden, "dueOn": str(today), "purpose": "x"}, "customerId", "NOT_FOUND"),
        ({"customerId": seen, "dueOn": "2020-01-01", "purpose": "x"}, "dueOn", "INVALID"),
        ({"customerId": seen, "dueOn": str(today), "purpose": "  "}, "purpose", "REQUIRED"),
        ({"customerId": seen, "dueOn": str(today), "purpose": "x",
          "assigneeId": __import__("schema.ids", fromlist=["x"]).to_global_id("User", outsider["id"])}, "assigneeId", "NOT_FOUND"),
    ]
    for data, field, code in cases:
        answer = await ask(http, SCHEDULE, {"input": data})
        assert answer["data"]["scheduleFollowUp"]["errors"] == [{"field": field, "code": code}], data
    assert await FollowUp.all().count() == 0
    # A follow-up of the hidden customer, assigned to me by someone who sees it, is not in my list.
    await FollowUp.create(customer_id=(await Customer.get(name="西")).id, assignee_id=me["id"], due_on=today, purpose="x")
    assert (await ask(http, MINE))["data"]["myFollowUps"] == {"totalCount": 0, "edges": []}


def test_a_leap_day_birthday_is_celebrated_on_the_28th_in_other_years():
    assert celebrated_on(date(2000, 2, 29), 2027) == date(2027, 2, 28)
    assert celebrated_on(date(2000, 2, 29), 2028) == date(2028, 2, 29)
    assert celebrated_on(date(1990, 12, 31), 2026) == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("today", "born", "days_until"),
    [
        (date(2026, 12, 29), date(1990, 1, 2), 4),  # across the year's end
        (date(2026, 12, 29), date(1985, 12, 29), 0),
        (date(2027, 2, 26), date(2000, 2, 29), 2),  # on the 28th, 2027 having no 29th
        (date(2028, 2, 26), date(2000, 2, 29), 3),  # on the 29th in a leap year
        (date(2027, 2, 26), date(1999, 3, 1), 3),
        (date(2026, 12, 29), date(1990, 1, 6), None),  # 8 days: outside a week
    ],
)
async def test_upcoming_birthdays_across_the_years_end_and_the_leap_day(clean_db, today, born, days_until):
    made = await create_customer(SYSTEM, {"name": "寿星", "birthday": born})
    found = await birthdays.upcoming_birthdays(SYSTEM, 7, 20, today=today)
    assert [(row["id"], row["days_until"]) for row in found] == ([(made["id"], days_until)] if days_until is not None else [])


async def test_upcoming_birthdays_are_ordered_and_scoped(clean_db, as_user):
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the working calendar's today

    def born(day: date) -> date:
        return date(1992, day.month, day.day)  # a leap year: any month and day

    await _customer("远", east, birthday=born(today + timedelta(days=3)))
    await _customer("近", east, birthday=born(today))
    await _customer("西边", west, birthday=born(today))
    me = await staff_member("east@example.com", ["customer.read", "customer.pii"], "TEAM", east)
    http = as_user(await bearer_for_user(me["id"]))
    found = (await ask(http, "{ upcomingBirthdays(days: 7) { daysUntil customer { name } } }"))["data"]["upcomingBirthdays"]
    assert [entry["customer"]["name"] for entry in found] == ["近", "远"]
    assert [entry["daysUntil"] for entry in found] == [0, 3]
    masked = await staff_member("masked@example.com", ["customer.read"], "TEAM", east)
    quiet = as_user(await bearer_for_user(masked["id"]))
    assert (await ask(quiet, "{ upcomingBirthdays { daysUntil } }"))["data"]["upcomingBirthdays"] == []
    bad = await ask(http, "{ upcomingBirthdays(days: 400) { daysUntil } }")
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_my_follow_ups_page_by_due_date(clean_db, as_user):
    me = await staff_member("sales@example.com", WORKER)
    http = as_user(await bearer_for_user(me["id"]))
    customer = await _customer("翻页")
    today = datetime.now(UTC).date()
    for ahead in (5, 1, 3):
        await ask(http, SCHEDULE, {"input": {"customerId": customer, "dueOn": str(today + timedelta(days=ahead)), "purpose": f"+{ahead}"}})
    page = "query($after: String) { myFollowUps(first: 2, after: $after) { pageInfo { hasNextPage endCursor } edges { node { purpose } } } }"
    first = (await ask(http, page))["data"]["myFollowUps"]
    assert [e["node"]["purpose"] for e in first["edges"]] == ["+1", "+3"] and first["pageInfo"]["hasNextPage"]
    second = (await ask(http, page, {"after": first["pageInfo"]["endCursor"]}))["data"]["myFollowUps"]
    assert [e["node"]["purpose"] for e in second["edges"]] == ["+5"] and not second["pageInfo"]["hasNextPage"]
    forged = await ask(http, page, {"after": "bm90IGEgY3Vyc29y"})
    assert forged["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_vip_gets_the_next_follow_up_when_one_is_done(clean_db, as_user):
    from models.segments import CustomerSegment

    me = await staff_member("sales@example.com", WORKER)
    http = as_user(await bearer_for_user(me["id"]))
    vip, other = await _customer("贵宾"), await _customer("普通")
    today = datetime.now(UTC).date()
    for name, tier in (("贵宾", "vip"), ("普通", "potential")):
        await CustomerSegment.create(customer_id=(await Customer.get(name=name)).id, frequency=1, monetary=Decimal("1"), paid_orders=1,
                                     touches=0, tier=tier, stage="active", computed_at=datetime.now(UTC))
    for customer in (vip, other):
        made = await ask(http, SCHEDULE, {"input": {"customerId": customer, "dueOn": str(today), "purpose": "季度回访"}})
        await ask(http, COMPLETE, {"input": {"id": made["data"]["scheduleFollowUp"]["followUp"]["id"], "outcome": "好"}})
    following = await FollowUp.filter(status="open").values("customer_id", "due_on", "purpose", "assignee_id")
    assert following == [{"customer_id": (await Customer.get(name="贵宾")).id, "due_on": today + timedelta(days=30),
                          "purpose": "季度回访", "assignee_id": me["id"]}]


async def test_completing_says_when_the_next_one_is_due(clean_db):
    from models.follow_ups import complete_follow_up, schedule_follow_up
    from models.scope import Scope
    from models.segments import CustomerSegment

    system = Scope.of_system()
    me = await staff_member("next@example.com", WORKER)
    today = datetime.now(UTC).date()
    answers = {}
    for name, tier in (("贵宾", "vip"), ("普通", "potential")):
        customer = (await Customer.create(name=name)).id
        await CustomerSegment.create(customer_id=customer, frequency=1, monetary=Decimal("1"), paid_orders=1, touches=0, tier=tier,
                                     stage="active", computed_at=datetime.now(UTC))
        made = await schedule_follow_up(system, customer, {"due_on": today, "purpose": "回访"}, me["id"])
        answers[tier] = await complete_follow_up(system, made["id"], "好")
    assert answers["vip"]["next_due_on"] == today + timedelta(days=30) and answers["vip"]["status"] == "done"
    assert answers["potential"]["next_due_on"] is None
