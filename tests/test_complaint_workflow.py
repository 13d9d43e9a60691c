"""Complaints in the domain: the state machine, SLA clocks, assignment, the sweep, surveys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
    year = datetime.now(UTC).astimezone().year
    assert first["reference"].startswith(f"KH-{first['created_at'].year}-")
    assert int(second["reference"][-6:]) == int(first["reference"][-6:]) + 1
    assert first["status"] is Status.NEW
    assert first["first_response_due_at"] - first["created_at"] == timedelta(hours=1)
    assert first["resolution_due_at"] - first["created_at"] == timedelta(hours=8)
    assert first["due_at"] == first["first_response_due_at"]
    events = await ComplaintEvent.filter(complaint_id=first["id"]).values_list("kind", flat=True)
    assert events == ["filed"] and year


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
    assert abs(stored.paused_seconds - 7200) <= 2
    assert abs((stored.resolution_due_at - due).total_seconds() - 7200) <= 2


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
