"""Complaints through the API: filing, working, the queue, scope, surveys, notifications, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models import escalation
from models.access import Team
from models.audit import AuditEvent
from models.complaints import Complaint
from models.customers import Customer
from models.notifications import Notification
from models.scope import Scope
from models.staff import create_team
from models.surveys import SurveyAnswer
from tests.conftest import ask, staff, staff_member

FILE = """
mutation($input: FileComplaintInput!) {
  fileComplaint(input: $input) {
    complaint { id reference status priority allowedMoves sla { timeLeftSeconds firstResponseBreached paused } }
    errors { field code message }
  }
}
"""
MOVE = """
mutation($input: TransitionComplaintInput!) {
  transitionComplaint(input: $input) { complaint { status allowedMoves firstRespondedAt resolvedAt surveyUrl } errors { field code message } }
}
"""
ASSIGN = """
mutation($input: AssignComplaintInput!) {
  assignComplaint(input: $input) { complaint { assignee { id displayName } } errors { field code message } }
}
"""
READ = """
query($id: ID!) {
  node(id: $id) { ... on Complaint { reference status customer { name } survey { csat nps comment via }
    timeline { totalCount edges { node { kind fromStatus toStatus body actor { displayName } } } } } }
}
"""
LIST = """
query($filter: ComplaintFilterInput) {
  complaints(filter: $filter) { totalCount edges { node { reference status } } }
}
"""
CUSTOMER = 'mutation($name: String!) { createCustomer(input: {name: $name}) { customer { id } } }'


async def _customer(gql, name: str = "王芳") -> str:
    return (await gql.data(CUSTOMER, {"name": name}))["createCustomer"]["customer"]["id"]


async def _file(gql, customer: str, **extra) -> dict:
    data = await gql.data(FILE, {"input": {
        "customerId": customer, "subject": "杯子碎了", "description": "快递到的时候就碎了", "channel": "WECHAT",
        "category": "delivery", **extra,
    }})
    assert data["fileComplaint"]["errors"] == []
    return data["fileComplaint"]["complaint"]


async def _move(gql, complaint: str, to: str, note: str | None = None) -> dict:
    return (await gql.data(MOVE, {"input": {"id": complaint, "to": to, "note": note}}))["transitionComplaint"]


async def test_file_work_and_close_a_complaint(gql):
    customer = await _customer(gql)
    complaint = await _file(gql, customer, priority="URGENT")
    assert complaint["reference"].startswith("KH-") and complaint["status"] == "NEW"
    assert complaint["allowedMoves"] == ["ACKNOWLEDGED", "CANCELLED"]
    assert 3500 <= complaint["sla"]["timeLeftSeconds"] <= 3600 and not complaint["sla"]["firstResponseBreached"]

    refused = await _move(gql, complaint["id"], "RESOLVED", "done")
    assert refused["complaint"] is None
    assert refused["errors"][0]["code"] == "INVALID_TRANSITION", refused
    assert "ACKNOWLEDGED, CANCELLED" in refused["errors"][0]["message"]

    assert (await _move(gql, complaint["id"], "ACKNOWLEDGED"))["complaint"]["firstRespondedAt"]
    await _move(gql, complaint["id"], "IN_PROGRESS")
    no_note = await _move(gql, complaint["id"], "RESOLVED")
    assert no_note["errors"][0] == {"field": "note", "code": "REQUIRED", "message": no_note["errors"][0]["message"]}
    assert (await _move(gql, complaint["id"], "RESOLVED", "换了一个新杯子"))["complaint"]["resolvedAt"]
    closed = (await _move(gql, complaint["id"], "CLOSED"))["complaint"]
    assert closed["status"] == "CLOSED" and closed["allowedMoves"] == []
    assert closed["surveyUrl"].startswith("http://kehu.test/s/")

    token = closed["surveyUrl"].rsplit("/", 1)[1]
    answered = await gql.data(
        'mutation($t: String!) { submitSurvey(input: {token: $t, csat: 5, nps: 9, comment: "好"}) { complaint { survey { csat } surveyUrl } errors { code } } }',
        {"t": token},
    )
    assert answered["submitSurvey"] == {"complaint": {"survey": {"csat": 5}, "surveyUrl": None}, "errors": []}
    again = await gql.data(
        'mutation($t: String!) { submitSurvey(input: {token: $t, csat: 1}) { errors { code } } }', {"t": token}
    )
    assert again["submitSurvey"]["errors"] == [{"code": "DUPLICATE"}]
    assert await SurveyAnswer.filter(complaint__reference=complaint["reference"]).values_list("csat", flat=True) == [5]

    read = (await gql.data(READ, {"id": complaint["id"]}))["node"]
    assert read["survey"] == {"csat": 5, "nps": 9, "comment": "好", "via": "API"}
    kinds = [(e["node"]["kind"], e["node"]["toStatus"]) for e in read["timeline"]["edges"]]
    assert kinds == [
        ("FILED", "NEW"), ("STATUS_CHANGED", "ACKNOWLEDGED"), ("STATUS_CHANGED", "IN_PROGRESS"),
        ("STATUS_CHANGED", "RESOLVED"), ("STATUS_CHANGED", "CLOSED"), ("SURVEY_ANSWERED", None),
    ]
    actions = await AuditEvent.filter(entity_type="complaint").order_by("id").values_list("action", flat=True)
    assert actions == [
        "complaint.file", "complaint.acknowledged", "complaint.in_progress", "complaint.resolved", "complaint.closed",
        "complaint.survey_answered",
    ]


async def test_filing_refuses_bad_input_and_writes_nothing(gql):
    customer = await _customer(gql)
    body = await gql(FILE, {"input": {"customerId": customer, "subject": " ", "description": "x", "channel": "APP", "category": "weather"}})
    errors = {e["field"]: e["code"] for e in body["data"]["fileComplaint"]["errors"]}
    assert errors["subject"] == "REQUIRED"
    assert await Complaint.all().count() == 0
    body = await gql(FILE, {"input": {"customerId": customer, "subject": "s", "description": "x", "channel": "APP", "category": "weather"}})
    assert body["data"]["fileComplaint"]["errors"][0]["field"] == "category"
    assert await Complaint.all().count() == 0


async def test_a_retried_filing_files_once(gql):
    customer = await _customer(gql)
    first = await _file(gql, customer, idempotencyKey="k-1")
    again = await _file(gql, customer, idempotencyKey="k-1")
    assert first["reference"] == again["reference"]
    assert await Complaint.all().count() == 1


async def test_automatic_assignment_picks_the_least_busy_handler(gql, as_user):
    team = (await create_team(Scope.of_system(), "售后"))["id"]
    await staff_member("busy@example.com", ["complaint.read", "complaint.handle"], "TEAM", team)
    idle = await staff_member("idle@example.com", ["complaint.read", "complaint.handle"], "TEAM", team)
    await staff_member("reader@example.com", ["complaint.read"], "TEAM", team)
    customer = await _customer(gql)
    await Customer.filter(id=int(__import__("schema.ids", fromlist=["x"]).from_global_id(customer, "c")[1])).update(team_id=team)
    first = await _file(gql, customer)
    second = await _file(gql, customer)
    given = await gql.data(ASSIGN, {"input": {"id": first["id"]}})
    assert given["assignComplaint"]["complaint"]["assignee"]["displayName"] == "busy"  # a tie: the first
    given = await gql.data(ASSIGN, {"input": {"id": second["id"]}})
    assert given["assignComplaint"]["complaint"]["assignee"]["displayName"] == "idle"
    assert await Notification.filter(user_id=idle["id"], kind="assigned").count() == 1
    inbox = await ask(as_user(await staff("x@example.com", [], "OWN")), "{ myNotifications { totalCount } }")
    assert inbox["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_complaint_is_visible_where_its_customer_is_and_to_its_assignee(gql, as_user):
    east = (await create_team(Scope.of_system(), "East"))["id"]
    west = (await create_team(Scope.of_system(), "West"))["id"]
    customer = await _customer(gql, "西边的客户")
    pk = int(customer and (await Customer.filter(name="西边的客户").first()).id)
    await Customer.filter(id=pk).update(team_id=west)
    complaint = await _file(gql, customer)
    east_reader = as_user(await staff("east@example.com", ["customer.read", "complaint.read", "complaint.handle"], "TEAM", east))

    listed = await ask(east_reader, LIST)
    assert listed["data"]["complaints"] == {"totalCount": 0, "edges": []}
    assert (await ask(east_reader, READ, {"id": complaint["id"]}))["data"]["node"] is None
    by_reference = await ask(east_reader, 'query($r: String!) { complaintByReference(reference: $r) { id } }', {"r": complaint["reference"]})
    assert by_reference["data"]["complaintByReference"] is None
    moved = await ask(east_reader, MOVE, {"input": {"id": complaint["id"], "to": "ACKNOWLEDGED"}})
    assert moved["data"]["transitionComplaint"]["errors"][0]["code"] == "NOT_FOUND"
    assert (await Complaint.get(reference=complaint["reference"])).status == "new"

    # Assigned to someone in East: they see it, not its customer; their notification is readable.
    handler = await staff_member("handler@example.com", ["customer.read", "complaint.read", "complaint.handle"], "TEAM", east)
    await gql.data(ASSIGN, {"input": {"id": complaint["id"], "assigneeId": __import__("schema.ids", fromlist=["x"]).to_global_id("User", handler["id"])}})
    from tests.conftest import bearer_for_user

    assignee = as_user(await bearer_for_user(handler["id"]))
    read = (await ask(assignee, READ, {"id": complaint["id"]}))["data"]["node"]
    assert read["reference"] == complaint["reference"] and read["customer"] is None
    inbox = await ask(assignee, "{ myNotifications { totalCount edges { node { kind complaint { reference } } } } }")
    assert inbox["data"]["myNotifications"]["edges"][0]["node"] == {"kind": "ASSIGNED", "complaint": {"reference": complaint["reference"]}}

    # Reassigned away: the notification goes with the sight of it.
    await Complaint.filter(reference=complaint["reference"]).update(assignee_id=None)
    inbox = await ask(assignee, "{ myNotifications { totalCount } }")
    assert inbox["data"]["myNotifications"]["totalCount"] == 0


async def test_breached_and_escalated_filters_follow_the_sweep(gql):
    lead = await staff_member("lead@example.com", ["complaint.read", "customer.read"], "ALL")
    team = await Team.create(name="Desk", lead_id=lead["id"])
    customer = await _customer(gql)
    late = await _file(gql, customer, priority="URGENT")
    on_time = await _file(gql, customer, priority="LOW")
    await Complaint.filter(reference=late["reference"]).update(
        team_id=team.id, first_response_due_at=datetime.now(UTC) - timedelta(minutes=5), due_at=datetime.now(UTC) - timedelta(minutes=5)
    )
    breached = (await gql.data(LIST, {"filter": {"breached": True}}))["complaints"]
    assert [e["node"]["reference"] for e in breached["edges"]] == [late["reference"]]
    assert (await gql.data(LIST, {"filter": {"escalated": True}}))["complaints"]["totalCount"] == 0
    swept = await escalation.sweep()
    assert swept.first_response == 1
    escalated = (await gql.data(LIST, {"filter": {"escalated": True}}))["complaints"]
    assert [e["node"]["reference"] for e in escalated["edges"]] == [late["reference"]]
    not_breached = (await gql.data(LIST, {"filter": {"breached": False}}))["complaints"]
    assert [e["node"]["reference"] for e in not_breached["edges"]] == [on_time["reference"]]
    assert await Notification.filter(user_id=lead["id"], kind="escalated").count() == 1


async def test_sla_policies_and_the_calendar_are_changed_by_configurers_only(gql, as_user):
    change = 'mutation { updateSlaPolicy(input: {priority: URGENT, firstResponseMinutes: 30, workingTime: true}) { slaPolicy { priority firstResponseMinutes resolutionMinutes workingTime } errors { code field } } }'
    changed = await gql.data(change)
    assert changed["updateSlaPolicy"]["slaPolicy"] == {"priority": "URGENT", "firstResponseMinutes": 30, "resolutionMinutes": 480, "workingTime": True}
    handler = as_user(await staff("h@example.com", ["complaint.read", "complaint.handle"], "ALL"))
    refused = await ask(handler, change.replace("30", "10"))
    assert refused["data"]["updateSlaPolicy"]["errors"][0]["code"] == "FORBIDDEN"
    policies = await ask(handler, "{ slaPolicies { priority firstResponseMinutes } }")
    assert policies["data"]["slaPolicies"][0] == {"priority": "URGENT", "firstResponseMinutes": 30}
    bad = await gql.data('mutation { updateSlaPolicy(input: {priority: LOW, firstResponseMinutes: 0}) { errors { field code } } }')
    assert bad["updateSlaPolicy"]["errors"] == [{"field": "firstResponseMinutes", "code": "INVALID"}]

    calendar = await gql.data(
        'mutation { updateWorkingCalendar(input: {dayStart: "08:30", days: [{day: "2026-10-01", kind: "HOLIDAY", name: "国庆节"},'
        ' {day: "2026-10-10", kind: "WORKDAY", name: "调休"}]}) { workingCalendar { timezone dayStart dayEnd weekdays days { day kind name } } errors { field code } } }'
    )
    assert calendar["updateWorkingCalendar"]["workingCalendar"] == {
        "timezone": "Asia/Shanghai", "dayStart": "08:30", "dayEnd": "18:00", "weekdays": [0, 1, 2, 3, 4],
        "days": [{"day": "2026-10-01", "kind": "HOLIDAY", "name": "国庆节"}, {"day": "2026-10-10", "kind": "WORKDAY", "name": "调休"}],
    }
    bad = await gql.data('mutation { updateWorkingCalendar(input: {timezone: "Mars/Base", dayEnd: "07:00"}) { errors { field code } } }')
    assert {e["field"] for e in bad["updateWorkingCalendar"]["errors"]} == {"timezone"}
    assert (await gql.data("{ workingCalendar { dayStart timezone } }"))["workingCalendar"] == {"dayStart": "08:30", "timezone": "Asia/Shanghai"}


async def test_the_survey_page_takes_one_answer_in_the_customers_language(gql, client):
    customer = await _customer(gql)
    complaint = await _file(gql, customer)
    for to, note in (("ACKNOWLEDGED", None), ("IN_PROGRESS", None), ("RESOLVED", "退款了"), ("CLOSED", None)):
        closed = await _move(gql, complaint["id"], to, note)
    path = closed["complaint"]["surveyUrl"].removeprefix("http://kehu.test")

    unknown = await client.get("/s/" + "A" * 43)
    assert unknown.status_code == 404 and "找不到问卷" in unknown.text
    page = await client.get(path)
    assert page.status_code == 200 and "您对我们的服务满意吗" in page.text and complaint["reference"] in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert 'lang="zh-CN"' in page.text
    english = await client.get(path, headers={"accept-language": "en-US,en;q=0.9"})
    assert "How did we do?" in english.text and 'lang="en"' in english.text

    bad = await client.post(path, data={"csat": "9", "comment": "x"})
    assert bad.status_code == 200 and "1 到 5" in bad.text
    assert await SurveyAnswer.all().count() == 0
    thanks = await client.post(path, data={"csat": "2", "nps": "6", "comment": "太慢了"})
    assert thanks.status_code == 200 and "谢谢您" in thanks.text
    assert await SurveyAnswer.all().values("csat", "nps", "comment", "via") == [{"csat": 2, "nps": 6, "comment": "太慢了", "via": "link"}]
    again = await client.post(path, data={"csat": "5"})
    assert again.status_code == 409 and "已经提交" in again.text
    assert await SurveyAnswer.all().values_list("csat", flat=True) == [2]
    read = (await gql.data(READ, {"id": complaint["id"]}))["node"]
    assert read["survey"]["csat"] == 2 and read["timeline"]["edges"][-1]["node"]["actor"] is None


async def test_a_calendar_change_is_all_or_nothing(gql):
    from models.service_levels import CalendarDay, WorkingHours

    bad = await gql.data('mutation { updateWorkingCalendar(input: {dayStart: "08:00", days: [{day: "2027-01-04", kind: "HOLIDAY"},'
                         ' {day: "2027-13-01", kind: "HOLIDAY"}]}) { workingCalendar { dayStart } errors { field code } } }')
    assert bad["updateWorkingCalendar"] == {"workingCalendar": None, "errors": [{"field": "day", "code": "INVALID"}]}
    assert await CalendarDay.all().count() == 0 and not await WorkingHours.exists()
    bad = await gql.data('mutation { updateWorkingCalendar(input: {days: [{day: "2027-01-05", kind: "HOLIDAY"},'
                         ' {day: "2027-01-06", kind: "BOGUS"}]}) { errors { field code } } }')
    assert bad["updateWorkingCalendar"]["errors"] == [{"field": "kind", "code": "INVALID"}]
    assert await CalendarDay.all().count() == 0


async def test_targets_that_a_calendar_cannot_reach_are_refused_and_never_fail_a_filing(gql):
    from models.service_levels import SlaPolicy

    await gql.data('mutation { updateWorkingCalendar(input: {weekdays: [0]}) { errors { code } } }')
    refused = await gql.data('mutation { updateSlaPolicy(input: {priority: LOW, resolutionMinutes: 527040, workingTime: true})'
                             ' { errors { field code message } } }')
    assert refused["updateSlaPolicy"]["errors"][0]["field"] == "resolutionMinutes"
    assert not await SlaPolicy.filter(priority="low").exists()
    await gql.data('mutation { updateSlaPolicy(input: {priority: LOW, resolutionMinutes: 10000, workingTime: true}) { errors { code } } }')
    narrower = await gql.data('mutation { updateWorkingCalendar(input: {dayStart: "09:00", dayEnd: "09:01"}) { errors { field code } } }')
    assert narrower["updateWorkingCalendar"]["errors"] == [{"field": "weekdays", "code": "INVALID"}]
    # Were it stored anyway (an older kehu, a hand edit), filing says so instead of failing.
    await SlaPolicy.filter(priority="low").update(resolution_minutes=527040)
    customer = await _customer(gql)
    body = await gql(FILE, {"input": {"customerId": customer, "subject": "s", "description": "d", "channel": "APP",
                                      "category": "other", "priority": "LOW"}})
    assert body["data"]["fileComplaint"]["errors"][0]["code"] == "INVALID"
    assert await Complaint.all().count() == 0


async def test_marking_notifications_read_touches_only_those_one_may_see(gql, as_user):
    from models.db import connection
    from models.notifications import Kind, notify
    from tests.conftest import bearer_for_user

    east = (await create_team(Scope.of_system(), "East"))["id"]
    west = (await create_team(Scope.of_system(), "West"))["id"]
    reader = await staff_member("r@example.com", ["customer.read", "complaint.read"], "TEAM", east)
    seen_customer, hidden_customer = await _customer(gql, "东"), await _customer(gql, "西")
    await Customer.filter(name="东").update(team_id=east)
    await Customer.filter(name="西").update(team_id=west)
    seen, hidden = await _file(gql, seen_customer), await _file(gql, hidden_customer)
    for complaint in (seen, hidden):
        pk = (await Complaint.get(reference=complaint["reference"])).id
        await notify(connection(), [reader["id"]], Kind.ESCALATED, pk, datetime.now(UTC))
    http = as_user(await bearer_for_user(reader["id"]))
    assert (await ask(http, "{ myNotifications { totalCount } }"))["data"]["myNotifications"]["totalCount"] == 1
    marked = await ask(http, "mutation { markNotificationsRead(input: {}) { marked errors { code } } }")
    assert marked["data"]["markNotificationsRead"] == {"marked": 1, "errors": []}
    assert await Notification.filter(read_at__isnull=True).count() == 1  # the hidden one, untouched


async def test_automatic_assignment_stays_within_the_assigners_reach(gql, as_user):
    east = (await create_team(Scope.of_system(), "East"))["id"]
    west = (await create_team(Scope.of_system(), "West"))["id"]
    await staff_member("west-handler@example.com", ["complaint.read", "complaint.handle"], "TEAM", west)
    customer = await _customer(gql, "西边")
    await Customer.filter(name="西边").update(team_id=west, owner_id=None)
    complaint = await _file(gql, customer)
    assigner = await staff_member("own@example.com", ["customer.read", "complaint.read", "complaint.assign"], "OWN", east)
    from tests.conftest import bearer_for_user

    http = as_user(await bearer_for_user(assigner["id"]))
    await Customer.filter(name="西边").update(owner_id=assigner["id"])  # theirs to see, in a team out of reach
    answer = await ask(http, ASSIGN, {"input": {"id": complaint["id"]}})
    assert answer["data"]["assignComplaint"]["errors"][0]["field"] == "assigneeId"
    assert (await Complaint.get(reference=complaint["reference"])).assignee_id is None
