"""The customer's survey after a closed complaint: CSAT 1–5, an optional NPS 0–10, a comment.

Closing a complaint issues a link with a one-time token, valid ``VALID_FOR``. The token is
derived from the server secret and the complaint (models/secret.py), so that staff can be
shown the link again; the database keeps only its hash. A survey takes one answer: through
the link (no sign-in: the token is the credential) or through the API for a channel that
collects answers itself (complaint.handle).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import secret, timeline
from models.audit import record
from models.errors import DomainError, ErrorCode
from models.scope import Scope, requires
from models.sql import Query, fetch
from models.timeline import EventKind
from models.validation import clean_text

__all__ = [
    "VALID_FOR", "Survey", "SurveyAnswer", "answer_survey", "survey_answers", "survey_for_token", "survey_token",
    "submit_survey", "survey_link", "token_hash",
]

VALID_FOR = timedelta(days=14)
_PURPOSE = "complaint-survey"


class SurveyAnswer(Model):
    id = fields.BigIntField(primary_key=True)
    complaint = fields.OneToOneField("models.Complaint", related_name="survey_answer", on_delete=fields.RESTRICT)
    customer = fields.ForeignKeyField(
        "models.Customer", related_name="survey_answers", null=True, on_delete=fields.RESTRICT,
        description="The complaint's customer, kept with the answer so that answers are read by customer without the complaint.",
    )
    csat = fields.SmallIntField()
    nps = fields.SmallIntField(null=True)
    comment = fields.TextField(null=True)
    via = fields.CharField(max_length=8)
    answered_at = fields.DatetimeField()

    class Meta:
        table = "survey_answer"
        indexes = (("answered_at", "customer_id"),)  # the dashboard's satisfaction by month (models/analytics.py)


def survey_token(complaint_id: int, issued_at: datetime) -> str:
    """The survey link's token: the same each time it is asked for, unguessable without the secret."""
    return secret.derive(_PURPOSE, f"{complaint_id}:{issued_at.astimezone(UTC).isoformat()}")


def survey_link(scope: Scope, complaint_id: int, issued_at: datetime | None, answered: bool, base_url: str) -> str | None:
    """The link to send the customer, as ``scope`` may be shown it: to holders of complaint.handle,
    from closing until it is answered or expires."""
    if not scope.can("complaint.handle") or Survey.state(issued_at, answered) != Survey.OPEN:
        return None
    return f"{base_url}s/{survey_token(complaint_id, issued_at)}"


def token_hash(complaint_id: int, issued_at: datetime) -> str:
    return secret.digest(survey_token(complaint_id, issued_at))


class Survey:
    """Where a survey stands: ``open`` for an answer, or why not."""

    ANSWERED = "answered"
    EXPIRED = "expired"
    OPEN = "open"

    @staticmethod
    def state(issued_at: datetime | None, answered: bool, at: datetime | None = None) -> str | None:
        if issued_at is None:
            return None
        if answered:
            return Survey.ANSWERED
        return Survey.EXPIRED if (at or datetime.now(UTC)) >= issued_at + VALID_FOR else Survey.OPEN


def _score(value: Any, field: str, low: int, high: int, required: bool) -> int | None:
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise DomainError.single(field, f"{field} must be a whole number from {low} to {high}.", ErrorCode.INVALID)
    return value


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    errors = []
    values: dict[str, Any] = {}
    for name, low, high, required in (("csat", 1, 5, True), ("nps", 0, 10, False)):
        try:
            values[name] = _score(data.get(name), name, low, high, required)
        except DomainError as error:
            errors.extend(error.errors)
    try:
        values["comment"] = clean_text(data.get("comment"), "comment", max_length=2000, multiline=True)
    except DomainError as error:
        errors.extend(error.errors)
    if errors:
        raise DomainError(errors)
    return values


async def survey_for_token(token: str) -> dict[str, Any] | None:
    """The complaint a link's token opens (reference, subject, survey state), or None for an unknown token."""
    if not isinstance(token, str) or not 20 <= len(token) <= 64 or not token.isascii():
        return None
    q = Query()
    rows = await fetch(
        "SELECT k.id, k.reference, k.subject, k.survey_issued_at, a.id AS answer_id FROM complaint k"
        f" LEFT JOIN survey_answer a ON a.complaint_id = k.id WHERE k.survey_token_hash = {q.param(secret.digest(token))}",
        q,
    )
    if not rows:
        return None
    row = rows[0]
    issued = row["survey_issued_at"]
    if isinstance(issued, str):
        issued = datetime.fromisoformat(issued)
    return {**row, "state": Survey.state(issued, row["answer_id"] is not None)}


async def _answer(scope: Scope | None, complaint_id: int, customer_id: int, issued_at: datetime | None,
                  values: dict[str, Any], via: str) -> dict[str, Any]:
    at = datetime.now(UTC)
    state = Survey.state(issued_at, False, at)
    if state is None:
        raise DomainError.single("complaintId", "this complaint has no survey: it is not closed.", ErrorCode.INVALID)
    if state == Survey.EXPIRED:
        raise DomainError.single("token", "this survey has expired.", ErrorCode.INVALID)
    scope = scope or Scope.anonymous()
    try:
        async with in_transaction() as connection:
            answer = await SurveyAnswer.create(complaint_id=complaint_id, customer_id=customer_id, via=via, answered_at=at,
                                               using_db=connection, **values)
            await timeline.append(connection, scope, complaint_id, EventKind.SURVEY_ANSWERED, at,
                                  data={"csat": values["csat"], "nps": values["nps"], "via": via})
            await record(scope, "complaint.survey_answered", "complaint", complaint_id,
                         after={"csat": values["csat"], "nps": values["nps"], "via": via},
                         connection=connection, customer_id=customer_id)
    except IntegrityError:
        raise DomainError.single("token", "this survey was already answered.", ErrorCode.DUPLICATE) from None
    return {"id": answer.id, "complaint_id": complaint_id, **values, "via": via, "answered_at": at}


async def answer_survey(token: str, data: dict[str, Any], client_ip: str | None = None) -> dict[str, Any]:
    """The customer's answer through the link."""
    values = _clean(data)
    found = await survey_for_token(token)
    if found is None:
        raise DomainError.single("token", "this survey link is not valid.", ErrorCode.NOT_FOUND)
    if found["state"] == Survey.ANSWERED:
        raise DomainError.single("token", "this survey was already answered.", ErrorCode.DUPLICATE)
    complaint = await _complaint_for_answer(None, found["id"])
    return await _answer(Scope.anonymous(client_ip), found["id"], complaint["customer_id"], complaint["survey_issued_at"], values, "link")


async def _complaint_for_answer(scope: Scope | None, complaint_id: int) -> dict[str, Any]:
    from models.complaints import complaints_by_ids  # complaints issue surveys; surveys read complaints

    rows = await complaints_by_ids(scope or Scope.of_system(), [complaint_id])
    if complaint_id not in rows:
        raise DomainError.single("complaintId", "no such complaint.", ErrorCode.NOT_FOUND)
    return rows[complaint_id]


@requires("complaint.handle")
async def submit_survey(scope: Scope, data: dict[str, Any], complaint_id: int | None = None, token: str | None = None) -> dict[str, Any]:
    """An answer collected by a channel, for a complaint the caller sees (by id or by its link's token)."""
    if (complaint_id is None) == (token is None):
        raise DomainError.single("complaintId", "give the complaintId or the token, not both.", ErrorCode.INVALID)
    values = _clean(data)
    if token is not None:
        found = await survey_for_token(token)
        if found is None:
            raise DomainError.single("token", "this survey link is not valid.", ErrorCode.NOT_FOUND)
        complaint_id = found["id"]
    complaint = await _complaint_for_answer(scope, complaint_id)
    if await SurveyAnswer.exists(complaint_id=complaint_id):
        raise DomainError.single("complaintId", "this survey was already answered.", ErrorCode.DUPLICATE)
    return await _answer(scope, complaint_id, complaint["customer_id"], complaint["survey_issued_at"], values, "api")


async def survey_answers(scope: Scope, complaint_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The answers to the surveys of complaints the caller sees."""
    from models.complaints import visible

    if not complaint_ids:
        return {}
    q = Query()
    sql = (
        "SELECT a.id, a.complaint_id, a.csat, a.nps, a.comment, a.via, a.answered_at FROM survey_answer a"
        " JOIN complaint k ON k.id = a.complaint_id JOIN customer c ON c.id = k.customer_id"
        f" WHERE a.complaint_id IN {q.in_list(complaint_ids)} AND {visible(scope, q)}"
    )
    return {row["complaint_id"]: row for row in await fetch(sql, q, SurveyAnswer)}
