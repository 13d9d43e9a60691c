"""Complaints in GraphQL: the type with its SLA and timeline, the queue, and the moves."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from models import complaints, notifications, service_levels, surveys
from models.complaints import Channel, ComplaintFilter, ComplaintOrder, Status
from models.errors import DomainError, ErrorCode
from models.service_levels import Priority
from models.timeline import EventKind
from schema import customers as customer_types
from schema.context import Info
from schema.errors import UserError, bad_input, or_bad_input
from schema.ids import from_global_id, to_global_id
from schema.mutations import Idempotent, change, input_dict, payload
from schema.relay import PAGE_ARGS_DOC, Connection, Node, child_connection, connection, page_args

if TYPE_CHECKING:
    from schema.customers import Customer
    from schema.orders import Order

__all__ = ["Complaint", "ComplaintMutations", "ComplaintQueries"]

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]
OrderRef = Annotated["Order", strawberry.lazy("schema.orders")]

strawberry.enum(Channel, name="ComplaintChannel", description="Where the complaint came in.")
strawberry.enum(Priority, name="ComplaintPriority", description="How pressing the complaint is; it sets the SLA targets.")
strawberry.enum(
    Status,
    name="ComplaintStatus",
    description=(
        "Where the complaint stands. NEW → ACKNOWLEDGED → IN_PROGRESS ⇄ WAITING_ON_CUSTOMER; IN_PROGRESS → RESOLVED → "
        "CLOSED; RESOLVED → REOPENED → IN_PROGRESS; CANCELLED from any open status."
    ),
)
strawberry.enum(EventKind, name="ComplaintEventKind", description="What happened on a complaint's timeline.")


def _arg(name: str) -> Any:
    return strawberry.argument(description=PAGE_ARGS_DOC[name])


@strawberry.type(description="A staff member as complaint work shows them: their name.")
class Colleague:
    id: strawberry.ID = strawberry.field(description="Their User global ID.")
    display_name: str = strawberry.field(description="Their name as colleagues see it.")


async def _colleague(info: Info, pk: int | None) -> Colleague | None:
    if pk is None:
        return None
    row = await info.context.loaders.colleague.load(pk)
    return Colleague(id=to_global_id("User", pk), display_name=row["display_name"]) if row else None


@strawberry.type(description="A complaint's clocks: when each target is due, whether it was met, the time left.")
class ComplaintSla:
    first_response_due_at: datetime = strawberry.field(description="When the first response is (or was) due.")
    resolution_due_at: datetime = strawberry.field(
        description="When the resolution is due; it moves later by the time spent waiting on the customer or resolved."
    )
    first_response_breached: bool = strawberry.field(description="The first response came late, or is late now.")
    resolution_breached: bool = strawberry.field(description="The resolution came late, or is late now.")
    time_left_seconds: int | None = strawberry.field(
        description=(
            "Seconds until the target that runs now is due, counted as its policy counts (working time or around "
            "the clock); negative once late; null when no clock runs (paused, resolved or closed)."
        )
    )
    paused: bool = strawberry.field(description="True while waiting on the customer: the resolution clock stands still.")
    working_time: bool = strawberry.field(description="The clocks count working hours of the working calendar only.")


@strawberry.type(description="One event on a complaint's timeline.")
class ComplaintEvent:
    id: strawberry.ID = strawberry.field(description="The event's global ID.")
    at: datetime = strawberry.field(description="When it happened.")
    kind: EventKind = strawberry.field(description="What happened.")
    from_status: Status | None = strawberry.field(description="For a change of status: the status before.")
    to_status: Status | None = strawberry.field(description="For a change of status (and filing): the status after.")
    body: str | None = strawberry.field(description="The note, the reply, or the note given with a move.")
    actor_pk: strawberry.Private[int | None]
    data: strawberry.Private[dict[str, Any]]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ComplaintEvent:
        return cls(
            id=to_global_id("ComplaintEvent", row["id"]), at=row["at"], kind=EventKind(row["kind"]),
            from_status=Status(row["from_status"]) if row["from_status"] else None,
            to_status=Status(row["to_status"]) if row["to_status"] else None,
            body=row["body"], actor_pk=row["actor_user_id"], data=row["data"] or {},
        )

    @strawberry.field(description="Who acted; null for the system (the escalation sweep) and for the customer.")
    async def actor(self, info: Info) -> Colleague | None:
        return await _colleague(info, self.actor_pk)

    @strawberry.field(description="For ASSIGNED: who was given the complaint.")
    async def assignee(self, info: Info) -> Colleague | None:
        return await _colleague(info, self.data.get("assignee_id"))

    @strawberry.field(description="For ESCALATED: the target missed, FIRST_RESPONSE or RESOLUTION.")
    def target(self) -> str | None:
        target = self.data.get("target")
        return target.upper() if target else None


@strawberry.type(description="The customer's answer to the survey after a closed complaint.")
class SurveyAnswer:
    csat: int = strawberry.field(description="Satisfaction, 1 (very unhappy) to 5 (very happy).")
    nps: int | None = strawberry.field(description="How likely they would recommend the business, 0 to 10.")
    comment: str | None = strawberry.field(description="What they wrote.")
    via: str = strawberry.field(description="LINK when answered through the survey link, API when a channel sent it.")
    answered_at: datetime = strawberry.field(description="When they answered.")


@strawberry.type(description="A customer's complaint (投诉), worked under SLA clocks from filing to the survey.")
class Complaint(Node):
    loader = "complaint"
    pk: strawberry.Private[int]
    row: strawberry.Private[dict[str, Any]]
    reference: str = strawberry.field(description="The reference to read out on the phone, such as KH-2026-000123.")
    subject: str = strawberry.field(description="What the complaint is about, in a line.")
    description: str = strawberry.field(description="The customer's account.")
    channel: Channel = strawberry.field(description="Where it came in.")
    category: str = strawberry.field(description="Its category code, such as product_quality (see complaintCategories).")
    priority: Priority = strawberry.field(description="How pressing it is.")
    status: Status = strawberry.field(description="Where it stands.")
    escalation_level: int = strawberry.field(description="How many targets were missed: each breach raises it by one.")
    first_responded_at: datetime | None = strawberry.field(description="The first response: the first move out of NEW, or the first reply.")
    resolved_at: datetime | None = strawberry.field(description="When it was resolved; null when not (or reopened).")
    closed_at: datetime | None = strawberry.field(description="When it was closed or cancelled.")
    resolution_note: str | None = strawberry.field(description="What was done, as given when resolving.")
    created_at: datetime = strawberry.field(description="When it was filed.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Complaint:
        return cls(
            id=to_global_id("Complaint", row["id"]), pk=row["id"], row=row, reference=row["reference"],
            subject=row["subject"], description=row["description"], channel=Channel(row["channel"]),
            category=row["category"], priority=Priority(row["priority"]), status=Status(row["status"]),
            escalation_level=row["escalation_level"], first_responded_at=row["first_responded_at"],
            resolved_at=row["resolved_at"], closed_at=row["closed_at"], resolution_note=row["resolution_note"],
            created_at=row["created_at"], updated_at=row["updated_at"],
        )

    @strawberry.field(description="The customer who complained; null when they are not visible to you (you are the assignee).")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await customer_types.load_customer(info, self.row["customer_id"])

    @strawberry.field(description="The order it is about, if any.")
    async def order(self, info: Info) -> OrderRef | None:
        from schema.orders import Order

        return None if self.row["order_id"] is None else await Order.load(info, self.row["order_id"])

    @strawberry.field(description="Who works it; null while unassigned.")
    async def assignee(self, info: Info) -> Colleague | None:
        return await _colleague(info, self.row["assignee_id"])

    @strawberry.field(description="The team it belongs to (the customer's when filed), by global ID.")
    def team_id(self) -> strawberry.ID | None:
        return None if self.row["team_id"] is None else to_global_id("Team", self.row["team_id"])

    @strawberry.field(description="The moves allowed from its status now, for buttons.")
    def allowed_moves(self) -> list[Status]:
        return list(complaints.allowed_moves(self.status))

    @strawberry.field(description="Its clocks: due times, breaches, time left.")
    async def sla(self, info: Info) -> ComplaintSla:
        clock = await info.context.loaders.clock(self.row["working_time"])
        state = complaints.sla(self.row, clock)
        return ComplaintSla(
            first_response_due_at=state.first_response_due_at, resolution_due_at=state.resolution_due_at,
            first_response_breached=state.first_response_breached, resolution_breached=state.resolution_breached,
            time_left_seconds=state.time_left_seconds, paused=state.paused, working_time=self.row["working_time"],
        )

    @strawberry.field(description="Everything that happened to it, oldest first.")
    async def timeline(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        last: Annotated[int | None, _arg("last")] = None,
        before: Annotated[str | None, _arg("before")] = None,
    ) -> Connection[ComplaintEvent]:
        loaders = info.context.loaders
        return await child_connection(loaders.timeline, loaders.timeline_count, self.pk, page_args(first, after, last, before), ComplaintEvent.from_row)

    @strawberry.field(description="The customer's answer to the survey; null until they answer.")
    async def survey(self, info: Info) -> SurveyAnswer | None:
        row = await info.context.loaders.survey_answer.load(self.pk)
        if row is None:
            return None
        return SurveyAnswer(csat=row["csat"], nps=row["nps"], comment=row["comment"], via=row["via"].upper(),
                            answered_at=row["answered_at"])

    @strawberry.field(
        description=(
            "The survey link to send the customer (SMS, WeChat), for holders of complaint.handle, from closing until it "
            "is answered or expires 14 days later; null otherwise."
        )
    )
    async def survey_url(self, info: Info) -> str | None:
        issued = self.row["survey_issued_at"]
        answered = issued is not None and await info.context.loaders.survey_answer.load(self.pk) is not None
        return surveys.survey_link(info.context.scope, self.pk, issued, answered, info.context.base_url)


def complaint_id(value: strawberry.ID, field: str) -> int:
    return from_global_id(value, field, "Complaint")[1]


def _optional_id(value: strawberry.ID | None, field: str, kind: str) -> int | None:
    if value is None:
        return None
    try:
        return from_global_id(value, field, kind)[1]
    except DomainError as error:
        raise bad_input(error) from None


@strawberry.input(description="Narrow the complaint list; all given conditions must hold.")
class ComplaintFilterInput:
    status: list[Status] | None = strawberry.field(default=None, description="In any of these statuses.")
    priority: list[Priority] | None = strawberry.field(default=None, description="Of any of these priorities.")
    assignee_id: strawberry.ID | None = strawberry.field(default=None, description="Assigned to this User (me { id } for yours).")
    unassigned: bool | None = strawberry.field(default=None, description="True: only those nobody works yet.")
    team_id: strawberry.ID | None = strawberry.field(default=None, description="Of this Team.")
    customer_id: strawberry.ID | None = strawberry.field(default=None, description="About this Customer.")
    breached: bool | None = strawberry.field(default=None, description="True: a target was missed or is late now; false: none.")
    escalated: bool | None = strawberry.field(default=None, description="True: escalated at least once; false: never.")
    search: str | None = strawberry.field(default=None, description="A reference (KH-2026-000123), or text in the subject.")

    def to_domain(self) -> ComplaintFilter:
        return ComplaintFilter(
            statuses=tuple(self.status or ()), priorities=tuple(self.priority or ()),
            assignee_id=_optional_id(self.assignee_id, "assigneeId", "User"), unassigned=bool(self.unassigned),
            team_id=_optional_id(self.team_id, "teamId", "Team"),
            customer_id=_optional_id(self.customer_id, "customerId", "Customer"),
            breached=self.breached, escalated=self.escalated, search=self.search,
        )


@strawberry.enum(description="What to sort complaints by; ties are broken by id.")
class ComplaintOrderField(Enum):
    DUE_AT = "due_at"
    CREATED_AT = "created_at"
    PRIORITY = "priority"


@strawberry.input(description="The order of a complaint list.")
class ComplaintOrderByInput:
    field: ComplaintOrderField = strawberry.field(
        description="DUE_AT: the next target due first; CREATED_AT: newest first; PRIORITY: most urgent first."
    )


@strawberry.type(description="The SLA targets of one priority.")
class SlaPolicy:
    priority: Priority = strawberry.field(description="The priority it applies to.")
    first_response_minutes: int = strawberry.field(description="Minutes until the first response is due.")
    resolution_minutes: int = strawberry.field(description="Minutes until the resolution is due.")
    working_time: bool = strawberry.field(description="True: the minutes count working hours of the calendar; false: around the clock.")


@strawberry.type(description="A date that departs from the weekly hours.")
class CalendarDay:
    day: str = strawberry.field(description="The date, YYYY-MM-DD.")
    kind: str = strawberry.field(description="HOLIDAY (a day off) or WORKDAY (a make-up working day, 调休).")
    name: str = strawberry.field(description="What it is, such as 国庆节.")


@strawberry.type(description="The working calendar SLA policies in working time count in.")
class WorkingCalendar:
    timezone: str = strawberry.field(description="The IANA time zone of the hours, such as Asia/Shanghai.")
    day_start: str = strawberry.field(description="When a working day starts, HH:MM.")
    day_end: str = strawberry.field(description="When a working day ends, HH:MM.")
    weekdays: list[int] = strawberry.field(description="The working weekdays, 0 (Monday) to 6 (Sunday).")
    days: list[CalendarDay] = strawberry.field(description="Holidays and make-up working days, in date order.")


@strawberry.type(description="A complaint category one may file under.")
class ComplaintCategory:
    code: str = strawberry.field(description="What `category` takes, such as product_quality.")
    label: str = strawberry.field(description="Its name for people.")


@strawberry.type(description="Something for you to look at: a complaint given to you, or escalated to you as team lead.")
class Notification:
    id: strawberry.ID = strawberry.field(description="The notification's global ID, for markNotificationsRead.")
    kind: str = strawberry.field(description="ASSIGNED or ESCALATED.")
    created_at: datetime = strawberry.field(description="When it was sent.")
    read_at: datetime | None = strawberry.field(description="When you marked it read; null while unread.")
    complaint_pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Notification:
        return cls(id=to_global_id("Notification", row["id"]), kind=str(row["kind"]).upper(), created_at=row["created_at"],
                   read_at=row["read_at"], complaint_pk=row["complaint_id"])

    @strawberry.field(description="The complaint it is about.")
    async def complaint(self, info: Info) -> Complaint | None:
        return await Complaint.load(info, self.complaint_pk)


@strawberry.type
class ComplaintQueries:
    @strawberry.field(description="Your notifications, newest first; only those whose complaint you may see.")
    async def my_notifications(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        unread_only: Annotated[bool, strawberry.argument(description="Only those not marked read.")] = False,
    ) -> Connection[Notification]:
        scope = info.context.scope
        args = page_args(first, after, None, None)
        page = await or_bad_input(notifications.list_notifications(scope, args, unread_only))
        return connection(page, Notification.from_row, lambda: notifications.count_notifications(scope, unread_only))

    @strawberry.field(description="Complaints you may see, due first unless `orderBy` says otherwise.")
    async def complaints(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        last: Annotated[int | None, _arg("last")] = None,
        before: Annotated[str | None, _arg("before")] = None,
        filter: Annotated[ComplaintFilterInput | None, strawberry.argument(description="Conditions to narrow the list.")] = None,
        order_by: Annotated[ComplaintOrderByInput | None, strawberry.argument(description="How to sort the list.")] = None,
    ) -> Connection[Complaint]:
        scope = info.context.scope
        args = page_args(first, after, last, before)
        domain_filter = (filter or ComplaintFilterInput()).to_domain()
        order = ComplaintOrder(order_by.field.value) if order_by else ComplaintOrder.DUE_AT
        page = await or_bad_input(complaints.list_complaints(scope, domain_filter, order, args))
        return connection(page, Complaint.from_row, lambda: or_bad_input(complaints.count_complaints(scope, domain_filter)))

    @strawberry.field(description="One complaint by global ID; null when there is none or it is not visible.")
    async def complaint(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The complaint's global ID.")]
    ) -> Complaint | None:
        try:
            pk = complaint_id(id, "id")
        except DomainError as error:
            if error.errors[0].code is ErrorCode.NOT_FOUND:
                return None
            raise bad_input(error) from None
        return await Complaint.load(info, pk)

    @strawberry.field(description="One complaint by its reference (KH-2026-000123); null when there is none or it is not visible.")
    async def complaint_by_reference(
        self, info: Info, reference: Annotated[str, strawberry.argument(description="The reference, any case.")]
    ) -> Complaint | None:
        row = await or_bad_input(complaints.complaint_by_reference(info.context.scope, reference))
        return Complaint.from_row(row) if row else None

    @strawberry.field(description="The categories a complaint may be filed under.")
    async def complaint_categories(self, info: Info) -> list[ComplaintCategory]:
        rows = await complaints.offered_categories(info.context.scope)
        return [ComplaintCategory(code=row["code"], label=row["label"]) for row in rows]

    @strawberry.field(description="The SLA policy of each priority, most urgent first.")
    async def sla_policies(self, info: Info) -> list[SlaPolicy]:
        return [_policy(row) for row in await service_levels.policies_for(info.context.scope)]

    @strawberry.field(description="The working calendar: weekly hours, holidays and make-up working days.")
    async def working_calendar(self, info: Info) -> WorkingCalendar:
        return _calendar(*await service_levels.calendar_for(info.context.scope))


def _policy(row: dict[str, Any]) -> SlaPolicy:
    return SlaPolicy(priority=row["priority"], first_response_minutes=row["first_response_minutes"],
                     resolution_minutes=row["resolution_minutes"], working_time=row["working_time"])


def _calendar(calendar, days: list[dict[str, Any]]) -> WorkingCalendar:
    return WorkingCalendar(
        timezone=calendar.timezone, day_start=calendar.day_start.strftime("%H:%M"), day_end=calendar.day_end.strftime("%H:%M"),
        weekdays=sorted(calendar.weekdays),
        days=[CalendarDay(day=d["day"].isoformat(), kind=str(d["kind"].value if hasattr(d["kind"], "value") else d["kind"]).upper(),
                          name=d["name"]) for d in days],
    )


# Mutations

@strawberry.input(description="A complaint to file.")
class FileComplaintInput(Idempotent):
    customer_id: strawberry.ID = strawberry.field(description="The customer who complains.")
    order_id: strawberry.ID | None = strawberry.field(default=None, description="The order it is about, one of the customer's.")
    subject: str = strawberry.field(description="What it is about, in a line: at most 200 characters.")
    description: str = strawberry.field(description="The customer's account, at most 10,000 characters.")
    channel: Channel = strawberry.field(description="Where it came in.")
    category: str = strawberry.field(description="A category code from complaintCategories.")
    priority: Priority | None = strawberry.field(default=None, description="NORMAL unless given.")


@strawberry.type(description="The result of fileComplaint.")
class FileComplaintPayload:
    complaint: Complaint | None = strawberry.field(description="The complaint filed, with its reference and status; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.input(description="A move of a complaint to another status.")
class TransitionComplaintInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The complaint.")
    to: Status = strawberry.field(description="The status to move to: one of its allowedMoves.")
    note: str | None = strawberry.field(default=None, description="What was done; required to resolve (the resolution note).")


@strawberry.input(description="Who should work a complaint.")
class AssignComplaintInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The complaint.")
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A User within your reach who holds complaint.handle; none: the member of the complaint's team who holds it with the fewest open complaints.",
    )


@strawberry.input(description="A note on a complaint: internal, or a reply to the customer.")
class AddComplaintNoteInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The complaint.")
    body: str = strawberry.field(description="The text, at most 10,000 characters.")
    internal: bool = strawberry.field(
        default=True, description="True: for staff only; false: a reply to the customer (the first response, if none came before)."
    )


@strawberry.type(description="The result of a change to a complaint.")
class ComplaintPayload:
    complaint: Complaint | None = strawberry.field(description="The complaint after the change; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.input(description="The customer's survey answer, collected by a channel.")
class SubmitSurveyInput(Idempotent):
    token: str | None = strawberry.field(default=None, description="The token of the survey link, or:")
    complaint_id: strawberry.ID | None = strawberry.field(default=None, description="the complaint (give one of the two).")
    csat: int = strawberry.field(description="Satisfaction, 1 to 5.")
    nps: int | None = strawberry.field(default=None, description="Likelihood to recommend, 0 to 10.")
    comment: str | None = strawberry.field(default=None, description="What they wrote, at most 2,000 characters.")


@strawberry.input(description="New targets for one priority.")
class UpdateSlaPolicyInput(Idempotent):
    priority: Priority = strawberry.field(description="The priority whose policy changes.")
    first_response_minutes: int | None = strawberry.field(default=None, description="Minutes to the first response.")
    resolution_minutes: int | None = strawberry.field(default=None, description="Minutes to the resolution.")
    working_time: bool | None = strawberry.field(default=None, description="Count working hours only (true) or around the clock.")


@strawberry.type(description="The result of updateSlaPolicy.")
class SlaPolicyPayload:
    sla_policy: SlaPolicy | None = strawberry.field(description="The policy after the change; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.input(description="A date to make a holiday or a make-up working day (or ordinary again).")
class CalendarDayInput:
    day: str = strawberry.field(description="The date, YYYY-MM-DD.")
    kind: str | None = strawberry.field(default=None, description="HOLIDAY, WORKDAY, or null to make it an ordinary day again.")
    name: str | None = strawberry.field(default=None, description="What it is, such as 国庆节.")


@strawberry.input(description="Changes to the working calendar.")
class UpdateWorkingCalendarInput(Idempotent):
    timezone: str | None = strawberry.field(default=None, description="An IANA time zone, such as Asia/Shanghai.")
    day_start: str | None = strawberry.field(default=None, description="When a working day starts, HH:MM.")
    day_end: str | None = strawberry.field(default=None, description="When a working day ends, HH:MM.")
    weekdays: list[int] | None = strawberry.field(default=None, description="The working weekdays, 0 (Monday) to 6 (Sunday).")
    days: list[CalendarDayInput] | None = strawberry.field(
        default=None, description="Dates to set, at most 100; the hours and every date change together or not at all."
    )


@strawberry.type(description="The result of updateWorkingCalendar.")
class WorkingCalendarPayload:
    working_calendar: WorkingCalendar | None = strawberry.field(description="The calendar after the change; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.input(description="Which notifications to mark read.")
class MarkNotificationsReadInput(Idempotent):
    ids: list[strawberry.ID] | None = strawberry.field(default=None, description="These notifications (at most 100); none: all of yours.")


@strawberry.type(description="The result of markNotificationsRead.")
class MarkNotificationsReadPayload:
    marked: int | None = strawberry.field(description="How many were unread and are read now.")
    errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type
class ComplaintMutations:
    @strawberry.mutation(description="File a complaint about a customer you see; it gets a reference and SLA clocks.")
    async def file_complaint(
        self, info: Info, input: Annotated[FileComplaintInput, strawberry.argument(description="The complaint.")]
    ) -> FileComplaintPayload:
        async def run() -> dict[str, Any]:
            pk = customer_types.customer_id(input.customer_id, "customerId")
            data = input_dict(input, exclude={"customer_id"})
            if input.order_id is not None:
                data["order_id"] = from_global_id(input.order_id, "orderId", "Order")[1]
            return {"complaint": await complaints.file_complaint(info.context.scope, pk, data)}

        return await payload(FileComplaintPayload, run, info, input, complaints.file_complaint)

    @strawberry.mutation(description="Move a complaint to another status; INVALID_TRANSITION names the moves allowed now.")
    async def transition_complaint(
        self, info: Info, input: Annotated[TransitionComplaintInput, strawberry.argument(description="The move.")]
    ) -> ComplaintPayload:
        return await change(ComplaintPayload, info, input, complaints.transition_complaint, lambda: (input.to, input.note))

    @strawberry.mutation(description="Give a complaint to a staff member, or automatically to the least busy handler of its team.")
    async def assign_complaint(
        self, info: Info, input: Annotated[AssignComplaintInput, strawberry.argument(description="The assignment.")]
    ) -> ComplaintPayload:
        def assignee() -> tuple[int | None]:
            return (None if input.assignee_id is None else from_global_id(input.assignee_id, "assigneeId", "User")[1],)

        return await change(ComplaintPayload, info, input, complaints.assign_complaint, assignee)

    @strawberry.mutation(description="Add an internal note, or a reply to the customer, to a complaint's timeline.")
    async def add_complaint_note(
        self, info: Info, input: Annotated[AddComplaintNoteInput, strawberry.argument(description="The note.")]
    ) -> ComplaintPayload:
        return await change(ComplaintPayload, info, input, complaints.add_complaint_note, lambda: (input.body, input.internal))

    @strawberry.mutation(description="Record the customer's survey answer collected by a channel (once per complaint).")
    async def submit_survey(
        self, info: Info, input: Annotated[SubmitSurveyInput, strawberry.argument(description="The answer.")]
    ) -> ComplaintPayload:
        async def run() -> dict[str, Any]:
            pk = None if input.complaint_id is None else complaint_id(input.complaint_id, "complaintId")
            data = {"csat": input.csat, "nps": input.nps, "comment": input.comment}
            answer = await surveys.submit_survey(info.context.scope, data, complaint_id=pk, token=input.token)
            rows = await complaints.complaints_by_ids(info.context.scope, [answer["complaint_id"]])
            return {"complaint": rows.get(answer["complaint_id"])}

        return await payload(ComplaintPayload, run, info, input, surveys.submit_survey)

    @strawberry.mutation(description="Change the SLA targets of a priority (complaint.configure); complaints filed before keep theirs.")
    async def update_sla_policy(
        self, info: Info, input: Annotated[UpdateSlaPolicyInput, strawberry.argument(description="The new targets.")]
    ) -> SlaPolicyPayload:
        async def run() -> dict[str, Any]:
            changes = input_dict(input, exclude={"priority"})
            changes = {key: value for key, value in changes.items() if value is not None}
            await service_levels.update_sla_policy(info.context.scope, input.priority, changes)
            return {"priority": Priority(input.priority).value}

        result = await payload(_PolicyResult, run, info, input, service_levels.update_sla_policy)
        if result.errors:
            return SlaPolicyPayload(sla_policy=None, errors=result.errors)
        policy = next(p for p in await service_levels.policies_for(info.context.scope) if p["priority"] is Priority(result.priority))
        return SlaPolicyPayload(sla_policy=_policy(policy), errors=[])

    @strawberry.mutation(description="Change the working calendar (complaint.configure): hours, time zone, holidays, make-up days.")
    async def update_working_calendar(
        self, info: Info, input: Annotated[UpdateWorkingCalendarInput, strawberry.argument(description="The changes.")]
    ) -> WorkingCalendarPayload:
        async def run() -> dict[str, Any]:
            hours = {key: value for key, value in input_dict(input, exclude={"days"}).items() if value is not None}
            days = [{"day": d.day, "kind": d.kind.lower() if d.kind else None, "name": d.name} for d in input.days or ()]
            await service_levels.update_working_calendar(info.context.scope, hours, days)
            return {"changed": True}

        result = await payload(_CalendarResult, run, info, input, service_levels.update_working_calendar)
        if result.errors:
            return WorkingCalendarPayload(working_calendar=None, errors=result.errors)
        calendar = _calendar(*await service_levels.calendar_for(info.context.scope))
        return WorkingCalendarPayload(working_calendar=calendar, errors=[])

    @strawberry.mutation(description="Mark your notifications read.")
    async def mark_notifications_read(
        self, info: Info, input: Annotated[MarkNotificationsReadInput, strawberry.argument(description="Which ones.")]
    ) -> MarkNotificationsReadPayload:
        async def run() -> dict[str, Any]:
            ids = None if input.ids is None else [from_global_id(i, "ids", "Notification")[1] for i in input.ids]
            return {"marked": await notifications.mark_notifications_read(info.context.scope, ids)}

        return await payload(MarkNotificationsReadPayload, run, info, input, notifications.mark_notifications_read)


@strawberry.type
class _PolicyResult:
    """What updateSlaPolicy keeps for a replay: the priority whose policy it read back."""

    priority: strawberry.Private[str | None]
    errors: list[UserError]


@strawberry.type
class _CalendarResult:
    changed: strawberry.Private[bool | None]
    errors: list[UserError]
