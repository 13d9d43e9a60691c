"""Complaints in the domain: the state machine, SLA clocks, assignment, the sweep, surveys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models import complaints, escalation, surveys
from models.complaints import MOVES, Complaint, Status
from models.customers import create_customer
from models.errors import DomainError, ErrorCode
from models.notifications import Notification
from models.scope import Scope
from models.timeline import ComplaintEvent

SYSTEM = Scope.of_system()


async def _complaint(priority: str = "NORMAL") -> dict:
    customer = await create_customer(SYSTEM, {"name": "王芳"})
    return await complaints.file_complaint(
        SYSTEM, customer["id"],
        {"subject": "坏了", "description": "收到的杯子碎了", "channel": "PHONE", "category": "product_quality", "priority": priority},
    )


async def _walk_to(complaint_id: int, target: Status) -> None:
    """Move a new complaint along the shortest path of allowed moves to ``target``."""
    paths = {
        Status.NEW: [],
        Status.ACKNOWLEDGED: [Status.ACKNOWLEDGED],
        Status.IN_PROGRESS: [Status.ACKNOWLEDGED, Status.IN_PROGRESS],
        Status.WAITING_ON_CUSTOMER: [Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER],
        Status.RESOLVED: [Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED],
        Status.REOPENED: [Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED, Status.REOPENED],
        Status.CLOSED: [Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED],
        Status.CANCELLED: [Status.CANCELLED],
    }
    for step in paths[target]:
        await complaints.transition_complaint(SYSTEM, complaint_id, step, "done" if step is Status.RESOLVED else None)


async def test_filing_gives_a_reference_due_times_and_a_timeline(clean_db):
    first = await _complaint("URGENT")
    second = await _complaint()
    assert first["reference"].startswith(f"KH-{first['created_at'].astimezone(ZoneInfo('Asia/Shanghai')).year}-")  # the calendar's year
    assert int(second["reference"][-6:]) == int(first["reference"][-6:]) + 1
    assert first["status"] is Status.NEW
    assert first["first_response_due_at"] - first["created_at"] == timedelta(hours=1)
    assert first["resolution_due_at"] - first["created_at"] == timedelta(hours=8)
    assert first["due_at"] == first["first_response_due_at"]
    events = await ComplaintEvent.filter(complaint_id=first["id"]).values_list("kind", flat=True)
    assert events == ["filed"]


@pytest.mark.parametrize("start", list(Status))
async def test_every_move_from_every_state(clean_db, start):
    for target in Status:
        complaint = await _complaint()
        await _walk_to(complaint["id"], start)
        note = "fixed it" if target is Status.RESOLVED else None
        if target in MOVES[start]:
            moved = await complaints.transition_complaint(SYSTEM, complaint["id"], target, note)
            assert moved["status"] is target
            assert (await Complaint.get(id=complaint["id"])).status == target
        else:
            with pytest.raises(DomainError) as refused:
                await complaints.transition_complaint(SYSTEM, complaint["id"], target, note)
            error = refused.value.errors[0]
            assert error.code is ErrorCode.INVALID_TRANSITION
            allowed = ", ".join(s.name for s in MOVES[start]) or "none"
            assert allowed in error.message
            assert (await Complaint.get(id=complaint["id"])).status == start


async def test_resolving_needs_a_note_and_the_first_move_is_the_first_response(clean_db):
    complaint = await _complaint()
    await complaints.transition_complaint(SYSTEM, complaint["id"], "ACKNOWLEDGED")
    stored = await Complaint.get(id=complaint["id"])
    assert stored.first_responded_at is not None and not stored.first_response_breached
    assert stored.due_at == stored.resolution_due_at
    await complaints.transition_complaint(SYSTEM, complaint["id"], "IN_PROGRESS")
    with pytest.raises(DomainError) as refused:
        await complaints.transition_complaint(SYSTEM, complaint["id"], "RESOLVED", "  ")
    assert refused.value.errors[0].code is ErrorCode.REQUIRED
    assert (await Complaint.get(id=complaint["id"])).status == Status.IN_PROGRESS


async def test_a_reply_is_the_first_response(clean_db):
    complaint = await _complaint()
    await complaints.add_complaint_note(SYSTEM, complaint["id"], "我们在看", internal=True)
    assert (await Complaint.get(id=complaint["id"])).first_responded_at is None
    await complaints.add_complaint_note(SYSTEM, complaint["id"], "您好，我们马上处理", internal=False)
    stored = await Complaint.get(id=complaint["id"])
    assert stored.first_responded_at is not None and stored.status == Status.NEW
    kinds = await ComplaintEvent.filter(complaint_id=complaint["id"]).order_by("id").values_list("kind", flat=True)
    assert kinds == ["filed", "note", "reply"]


async def test_waiting_on_the_customer_pauses_the_resolution_clock(clean_db):
    complaint = await _complaint()
    await _walk_to(complaint["id"], Status.WAITING_ON_CUSTOMER)
    due = (await Complaint.get(id=complaint["id"])).resolution_due_at
    # Pretend the complaint has waited two hours.
    paused_at = datetime.now(UTC) - timedelta(hours=2)
    await Complaint.filter(id=complaint["id"]).update(paused_at=paused_at)
    await complaints.transition_complaint(SYSTEM, complaint["id"], "IN_PROGRESS")
    stored = await Complaint.get(id=complaint["id"])
    assert stored.paused_at is None
    assert abs(stored.paused_seconds - 7200) <= 30
    assert abs((stored.resolution_due_at - due).total_seconds() - 7200) <= 30


async def test_the_sweep_escalates_once_and_tells_the_lead(clean_db):
    from models.access import Team, User

    lead = await User.create(email="lead@example.com", display_name="lead", password_hash="!")
    team = await Team.create(name="售后", lead_id=lead.id)
    complaint = await _complaint()
    await Complaint.filter(id=complaint["id"]).update(team_id=team.id)
    later = datetime.now(UTC) + timedelta(hours=73)  # NORMAL: 8 h and 72 h
    swept = await escalation.sweep(later)
    assert (swept.first_response, swept.resolution) == (1, 1)
    assert (await escalation.sweep(later)).total == 0
    stored = await Complaint.get(id=complaint["id"])
    assert stored.escalation_level == 2 and stored.first_response_breached and stored.resolution_breached
    assert await Notification.filter(user_id=lead.id, complaint_id=complaint["id"], kind="escalated").count() == 2
    assert await ComplaintEvent.filter(complaint_id=complaint["id"], kind="escalated").count() == 2


async def test_a_closed_complaint_takes_one_survey_answer(clean_db):
    complaint = await _complaint()
    await _walk_to(complaint["id"], Status.CLOSED)
    stored = await Complaint.get(id=complaint["id"])
    token = surveys.survey_token(stored.id, stored.survey_issued_at)
    assert (await surveys.survey_for_token(token))["state"] == "open"
    answer = await surveys.answer_survey(token, {"csat": 4, "nps": 9, "comment": "谢谢"})
    assert answer["csat"] == 4
    with pytest.raises(DomainError) as again:
        await surveys.answer_survey(token, {"csat": 1})
    assert again.value.errors[0].code is ErrorCode.DUPLICATE
    assert (await surveys.survey_for_token(token))["state"] == "answered"
    assert await surveys.survey_for_token("x" * 43) is None


SHANGHAI = __import__("zoneinfo").ZoneInfo("Asia/Shanghai")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


async def test_sla_clocks_count_working_time_around_a_holiday_week_a_pause_and_a_make_up_saturday(clean_db, monkeypatch):
    from models import service_levels

    await service_levels.update_sla_policy(SYSTEM, "urgent", {"working_time": True})  # 1 h / 8 h
    await service_levels.update_working_calendar(SYSTEM, {}, [
        *({"day": f"2026-10-0{day}", "kind": "holiday", "name": "国庆节"} for day in range(1, 8)),
        *({"day": day, "kind": "workday", "name": "调休"} for day in ("2026-09-27", "2026-10-10")),
    ])
    clock = {"now": _at("2026-09-30 17:00")}
    monkeypatch.setattr(complaints, "now", lambda: clock["now"])

    complaint = await _complaint("URGENT")
    assert complaint["first_response_due_at"] == _at("2026-09-30 18:00")
    # 1 h on the 30th, the National Day week off, then 7 h on Thursday the 8th
    assert complaint["resolution_due_at"] == _at("2026-10-08 16:00")

    clock["now"] = _at("2026-09-30 17:30")
    await complaints.transition_complaint(SYSTEM, complaint["id"], "ACKNOWLEDGED")
    await complaints.transition_complaint(SYSTEM, complaint["id"], "IN_PROGRESS")
    clock["now"] = _at("2026-10-08 10:00")
    await complaints.transition_complaint(SYSTEM, complaint["id"], "WAITING_ON_CUSTOMER")
    paused = await complaints.complaints_by_ids(SYSTEM, [complaint["id"]])
    calendar_clock = await service_levels.clock_for(True)
    state = complaints.sla(paused[complaint["id"]], calendar_clock, _at("2026-10-08 12:00"))
    assert state.paused and state.time_left_seconds is None and not state.resolution_breached

    clock["now"] = _at("2026-10-09 10:00")  # waited 8 h on the 8th and 1 h on the 9th, all working time
    resumed = await complaints.transition_complaint(SYSTEM, complaint["id"], "IN_PROGRESS")
    assert resumed["paused_seconds"] == 9 * 3600
    assert resumed["resolution_due_at"] == _at("2026-10-09 16:00")
    state = complaints.sla(resumed, calendar_clock, _at("2026-10-09 15:00"))
    assert state.time_left_seconds == 3600 and not state.resolution_breached
    late = complaints.sla(resumed, calendar_clock, _at("2026-10-10 10:00"))  # the make-up Saturday counts
    assert late.time_left_seconds == -3 * 3600 and late.resolution_breached

    clock["now"] = _at("2026-10-09 17:00")  # Friday, 1 h before closing
    weekend = await _complaint("URGENT")
    assert weekend["first_response_due_at"] == _at("2026-10-09 18:00")
    assert weekend["resolution_due_at"] == _at("2026-10-10 16:00")  # 1 h on Friday, 7 h on the make-up Saturday


async def test_around_the_clock_policies_ignore_the_calendar(clean_db, monkeypatch):
    monkeypatch.setattr(complaints, "now", lambda: _at("2026-10-01 23:00"))
    complaint = await _complaint("HIGH")  # 4 h / 24 h, in the middle of the holiday
    assert complaint["first_response_due_at"] == _at("2026-10-02 03:00")
    assert complaint["resolution_due_at"] == _at("2026-10-02 23:00")


async def test_concurrent_filings_get_distinct_consecutive_references(clean_db):
    import asyncio

    customer = await create_customer(SYSTEM, {"name": "并发"})
    data = {"subject": "s", "description": "d", "channel": "APP", "category": "other"}
    filed = await asyncio.gather(*(complaints.file_complaint(SYSTEM, customer["id"], data) for _ in range(20)))
    numbers = sorted(int(row["reference"][-6:]) for row in filed)
    assert numbers == list(range(numbers[0], numbers[0] + 20))


async def test_two_sweeps_at_once_escalate_each_breach_exactly_once(clean_db):
    import asyncio

    from models.access import Team, User

    lead = await User.create(email="lead@example.com", display_name="lead", password_hash="!")
    team = await Team.create(name="售后", lead_id=lead.id)
    made = [await _complaint() for _ in range(30)]
    await Complaint.filter(id__in=[row["id"] for row in made]).update(team_id=team.id)
    later = datetime.now(UTC) + timedelta(hours=9)  # the first responses are late, the resolutions not yet
    first, second = await asyncio.gather(escalation.sweep(later), escalation.sweep(later))
    assert first.first_response + second.first_response == 30
    assert await Complaint.filter(escalation_level=1).count() == 30
    assert await ComplaintEvent.filter(kind="escalated").count() == 30
    assert await Notification.filter(user_id=lead.id, kind="escalated").count() == 30
    assert (await escalation.sweep(later)).total == 0
