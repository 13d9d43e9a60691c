"""My day in the admin: the signed-in salesperson's follow-ups, done, snoozed and handed on in place;
churn alerts and birthdays of the customers they see; the customer page's segment and follow-ups.
Also the API's rescheduleFollowUp, the same domain operation the page's snooze and reassign use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from models.access import User
from models.audit import AuditEvent
from models.birthdays import business_today
from models.churn import ChurnAlert
from models.customers import Customer, create_customer
from models.follow_ups import FollowUp
from models.interactions import Interaction
from models.scope import Scope
from models.segments import CustomerSegment, SegmentChange
from models.staff import create_team
from schema.ids import to_global_id
from tests.conftest import ask, bearer_for_user, staff_member
from tests.test_admin import signed_in

SYSTEM = Scope.of_system()
SALES = ["customer.read", "customer.pii", "interaction.create"]


@dataclass
class Day:
    """East's salesperson (TEAM scope) with a colleague in East and a stranger in West; East's 张伟 (VIP)
    and 李娜, West's 王芳 (hidden from East); follow-ups and churn alerts of each."""

    http: object
    csrf: str
    me: int
    colleague: int
    stranger: int
    vip: int
    plain: int
    hidden: int
    overdue: int
    due: int
    later: int
    colleagues: int
    hidden_follow_up: int
    today: date


async def _customer(name: str, team: int, **data) -> int:
    made = await create_customer(SYSTEM, {"name": name, **data})
    await Customer.filter(id=made["id"]).update(team_id=team)
    return made["id"]


async def _follow_up(customer: int, assignee: int, due_on: date, purpose: str) -> int:
    return (await FollowUp.create(customer_id=customer, assignee_id=assignee, due_on=due_on, purpose=purpose)).id


async def _day(browser, permissions: list[str] = SALES) -> Day:
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    colleague = (await staff_member("colleague@example.com", SALES, "TEAM", east))["id"]
    stranger = (await staff_member("stranger@example.com", SALES, "TEAM", west))["id"]
    http, csrf = await signed_in(browser, permissions, email="sales@example.com", scope="TEAM", team_id=east)
    me = (await User.get(email="sales@example.com")).id
    today = await business_today()
    vip = await _customer("张伟", east)
    plain = await _customer("李娜", east, birthday=date(1992, today.month, today.day))
    hidden = await _customer("王芳", west)
    await CustomerSegment.create(
        customer_id=vip, recency_days=5, frequency=6, monetary=Decimal("12000"), paid_orders=6, touches=2, r=5, f=5, m=5,
        tier="vip", stage="loyal", computed_at=datetime.now(UTC),
    )
    paid = datetime.now(UTC) - timedelta(days=150)
    for customer in (plain, hidden):
        await ChurnAlert.create(customer_id=customer, assignee_id=me, last_paid_at=paid, days_since=140, threshold_days=113,
                                opened_at=datetime.now(UTC) - timedelta(days=10))
    return Day(
        http, csrf, me, colleague, stranger, vip, plain, hidden,
        overdue=await _follow_up(vip, me, today - timedelta(days=3), "季度回访"),
        due=await _follow_up(plain, me, today, "确认新地址"),
        later=await _follow_up(plain, me, today + timedelta(days=5), "下周再说"),
        colleagues=await _follow_up(plain, colleague, today, "同事的回访"),
        hidden_follow_up=await _follow_up(hidden, me, today, "看不见的回访"),
        today=today,
    )


def _section(html: str, id_: str) -> str:
    start = html.index(f'<section id="{id_}">')
    return html[start:html.index("</section>", start)]


def _hx(day: Day) -> dict[str, str]:
    return {"hx-request": "true", "x-csrf-token": day.csrf}


async def test_my_day_lists_my_overdue_and_due_follow_ups_churn_alerts_and_birthdays(browser):
    day = await _day(browser)
    page = await day.http.get("/admin/today")
    assert page.status_code == 200
    overdue, due = _section(page.text, "overdue"), _section(page.text, "due-today")
    assert f'data-follow-up="{day.overdue}"' in overdue and "季度回访" in overdue and "张伟" in overdue
    assert f'href="/admin/customers/{day.vip}"' in overdue and (day.today - timedelta(days=3)).isoformat() in overdue
    assert f'data-follow-up="{day.due}"' in due and "确认新地址" in due and f'data-follow-up="{day.overdue}"' not in due
    assert "同事的回访" not in page.text  # a colleague's
    assert "下周再说" not in page.text  # not due yet
    assert "看不见的回访" not in page.text and "王芳" not in page.text  # a customer out of scope, in no section
    alerts = _section(page.text, "churn-alerts")
    assert f'data-churn-alert="{(await ChurnAlert.get(customer_id=day.plain)).id}"' in alerts and "李娜" in alerts
    assert "150 days" in alerts and "113 days" in alerts
    assert "李娜" in _section(page.text, "birthdays")
    # each action carries the session's CSRF token and swaps its row
    assert page.text.count(f'name="csrf_token" value="{day.csrf}"') >= 3 * 2
    assert f'hx-post="/admin/today/follow-ups/{day.due}/done" hx-target="#follow-up-{day.due}" hx-swap="outerHTML"' in page.text
    assert f'value="{(day.today + timedelta(days=1)).isoformat()}"' in due  # snooze: tomorrow by default
    reassign = due[due.index(f"/admin/today/follow-ups/{day.due}/reassign"):]
    assert "colleague</option>" in reassign and "stranger</option>" not in reassign
    assert '<a href="/admin/today">My day</a>' in page.text
    assert '<a href="/admin/today">My day</a>' in (await day.http.get("/admin/")).text
    chinese = (await day.http.get("/admin/today", headers={"accept-language": "zh-CN"})).text
    assert "<h1>我的今天" in chinese and "逾期的跟进" in chinese and "推迟" in chinese


async def test_without_customer_pii_there_are_no_birthdays(browser):
    day = await _day(browser, ["customer.read", "interaction.create"])
    page = await day.http.get("/admin/today")
    assert page.status_code == 200 and 'id="birthdays"' not in page.text and "确认新地址" in page.text


async def test_done_with_an_outcome_logs_the_interaction_and_schedules_the_vips_next(browser):
    day = await _day(browser)
    done = await day.http.post(f"/admin/today/follow-ups/{day.overdue}/done", data={"outcome": "答应下周下单"}, headers=_hx(day))
    assert done.status_code == 200 and "<html" not in done.text
    following = await FollowUp.get(customer_id=day.vip, status="open")
    expected = datetime.now(UTC).date() + timedelta(days=30)
    assert following.due_on == expected and following.assignee_id == day.me and following.purpose == "季度回访"
    assert f'id="follow-up-{day.overdue}"' in done.text and f"The next follow-up is due on {expected.isoformat()}." in done.text
    stored = await FollowUp.get(id=day.overdue)
    assert stored.status == "done" and stored.outcome == "答应下周下单"
    interaction = await Interaction.get(id=stored.interaction_id)
    assert (interaction.customer_id, interaction.outcome, interaction.summary) == (day.vip, "答应下周下单", "季度回访")

    plain = await day.http.post(f"/admin/today/follow-ups/{day.due}/done", data={"outcome": "已确认"}, headers=_hx(day))
    assert plain.status_code == 200 and "Done." in plain.text and "next follow-up" not in plain.text
    assert not await FollowUp.filter(customer_id=day.plain, status="open", purpose="确认新地址").exists()

    again = await day.http.post(f"/admin/today/follow-ups/{day.due}/done", data={"outcome": "再来一次"}, headers=_hx(day))
    assert again.status_code == 400 and "this follow-up is done already." in again.text and 'role="alert"' in again.text
    empty = await day.http.post(f"/admin/today/follow-ups/{day.later}/done", data={"outcome": "  "}, headers=_hx(day))
    assert empty.status_code == 400 and "outcome" in empty.text and (await FollowUp.get(id=day.later)).status == "open"


async def test_snooze_moves_the_due_date(browser):
    day = await _day(browser)
    to = day.today + timedelta(days=2)
    snoozed = await day.http.post(f"/admin/today/follow-ups/{day.due}/snooze", data={"due_on": to.isoformat()}, headers=_hx(day))
    assert snoozed.status_code == 200 and f"Snoozed to {to.isoformat()}." in snoozed.text
    assert (await FollowUp.get(id=day.due)).due_on == to
    event = await AuditEvent.get(action="follow_up.reschedule", entity_id=day.due)
    assert event.customer_id == day.plain
    assert "确认新地址" not in _section((await day.http.get("/admin/today")).text, "due-today")
    bad = await day.http.post(f"/admin/today/follow-ups/{day.overdue}/snooze", data={"due_on": "soon"}, headers=_hx(day))
    assert bad.status_code == 400 and "dueOn must be a date" in bad.text and f'id="follow-up-{day.overdue}"' in bad.text
    assert (await FollowUp.get(id=day.overdue)).due_on == day.today - timedelta(days=3)


async def test_reassign_within_reach_only(browser):
    day = await _day(browser)
    refused = await day.http.post(f"/admin/today/follow-ups/{day.due}/reassign", data={"assignee_id": str(day.stranger)},
                                  headers=_hx(day))
    assert refused.status_code == 400 and "no such active staff member." in refused.text and 'role="alert"' in refused.text
    assert f'id="follow-up-{day.due}"' in refused.text and "<html" not in refused.text
    assert (await FollowUp.get(id=day.due)).assignee_id == day.me
    assert not await AuditEvent.filter(action="follow_up.reschedule").exists()

    handed = await day.http.post(f"/admin/today/follow-ups/{day.due}/reassign", data={"assignee_id": str(day.colleague)},
                                 headers=_hx(day))
    assert handed.status_code == 200 and "Handed to colleague." in handed.text
    assert (await FollowUp.get(id=day.due)).assignee_id == day.colleague
    assert "确认新地址" not in (await day.http.get("/admin/today")).text


async def test_without_the_csrf_token_or_for_a_hidden_customer_nothing_changes(browser):
    day = await _day(browser)
    for action, data in (("done", {"outcome": "x"}), ("snooze", {"due_on": (day.today + timedelta(days=1)).isoformat()}),
                         ("reassign", {"assignee_id": str(day.colleague)})):
        refused = await day.http.post(f"/admin/today/follow-ups/{day.due}/{action}", data=data)
        assert refused.status_code == 403 and "security token" in refused.text, action
        hidden = await day.http.post(f"/admin/today/follow-ups/{day.hidden_follow_up}/{action}", data={**data, "csrf_token": day.csrf})
        assert hidden.status_code == 404, action
    for follow_up in (day.due, day.hidden_follow_up):
        stored = await FollowUp.get(id=follow_up)
        assert (stored.status, stored.assignee_id, stored.due_on) == ("open", day.me, day.today)
    assert not await Interaction.all().exists()


async def test_without_htmx_an_action_returns_to_the_page(browser):
    day = await _day(browser)
    done = await day.http.post(f"/admin/today/follow-ups/{day.due}/done", data={"outcome": "好", "csrf_token": day.csrf})
    assert done.status_code == 303 and done.headers["location"] == "/admin/today"
    refused = await day.http.post(f"/admin/today/follow-ups/{day.overdue}/reassign",
                                  data={"assignee_id": str(day.stranger), "csrf_token": day.csrf})
    assert refused.status_code == 400 and "<html" in refused.text and "no such active staff member." in refused.text


async def test_the_customer_page_shows_the_segment_its_reasons_history_and_follow_ups(browser):
    day = await _day(browser)
    await SegmentChange.create(customer_id=day.vip, at=datetime(2026, 1, 5, tzinfo=UTC), from_tier=None, to_tier="potential",
                               from_stage=None, to_stage="new")
    await SegmentChange.create(customer_id=day.vip, at=datetime(2026, 3, 9, tzinfo=UTC), from_tier="potential", to_tier="vip",
                               from_stage="new", to_stage="loyal")
    await SegmentChange.create(customer_id=day.hidden, at=datetime(2026, 3, 9, tzinfo=UTC), from_tier="vip", to_tier="dormant",
                               from_stage="loyal", to_stage="churned")
    await day.http.post(f"/admin/today/follow-ups/{day.overdue}/done", data={"outcome": "答应下周下单"}, headers=_hx(day))
    page = await day.http.get(f"/admin/customers/{day.vip}")
    assert page.status_code == 200
    segment = _section(page.text, "segment")
    assert 'data-tier="vip">VIP</span>' in segment and 'data-stage="loyal">Loyal</span>' in segment
    assert "recency score 5 and monetary score 5" in segment  # the reasons, in the page's language
    history = segment[segment.index('id="segment-history"'):]
    rows = history.split("<tr>")[2:]
    assert len(rows) == 2 and "2026-03-09" in rows[0] and "Potential → VIP" in rows[0] and "New customer → Loyal" in rows[0]
    assert "2026-01-05" in rows[1] and "— → Potential" in rows[1]
    follow_ups = _section(page.text, "follow-ups")
    expected = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    assert f"{expected} · " in follow_ups and "季度回访 · 答应下周下单" in follow_ups
    assert '<span class="outcome">答应下周下单</span>' in page.text  # the interaction it was
    assert (await day.http.get(f"/admin/customers/{day.hidden}")).status_code == 404


async def test_reschedule_follow_up_in_the_api(clean_db, as_user):
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    me = (await staff_member("sales@example.com", SALES, "TEAM", east))["id"]
    colleague = (await staff_member("colleague@example.com", SALES, "TEAM", east))["id"]
    stranger = (await staff_member("stranger@example.com", SALES, "TEAM", west))["id"]
    customer = await _customer("张伟", east)
    follow_up = await _follow_up(customer, me, datetime.now(UTC).date(), "回访")
    http = as_user(await bearer_for_user(me))
    mutation = """mutation($input: RescheduleFollowUpInput!) {
      rescheduleFollowUp(input: $input) { followUp { dueOn assigneeId status } errors { field code message } } }"""
    node = to_global_id("FollowUp", follow_up)
    nothing = (await ask(http, mutation, {"input": {"id": node}}))["data"]["rescheduleFollowUp"]
    assert nothing["followUp"] is None and nothing["errors"][0]["code"] == "INVALID"
    far = (await ask(http, mutation, {"input": {"id": node, "assigneeId": to_global_id("User", stranger)}}))["data"]["rescheduleFollowUp"]
    assert far["errors"] == [{"field": "assigneeId", "code": "NOT_FOUND", "message": "no such active staff member."}]
    to = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    moved = (await ask(http, mutation, {"input": {"id": node, "dueOn": to, "assigneeId": to_global_id("User", colleague)}}))
    assert moved["data"]["rescheduleFollowUp"] == {
        "followUp": {"dueOn": to, "assigneeId": to_global_id("User", colleague), "status": "OPEN"}, "errors": [],
    }
    stored = await FollowUp.get(id=follow_up)
    assert (stored.due_on.isoformat(), stored.assignee_id) == (to, colleague)
