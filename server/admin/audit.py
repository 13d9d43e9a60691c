"""The audit log in the admin: filter by actor, entity and time; newest first."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from models import audit
from models.audit import ENTITY_TYPES, AuditFilter
from models.errors import DomainError, ErrorCode
from models.pagination import PageArgs
from server.admin.pages import Admin, input_errors, page, parse_id, render
from server.i18n import gettext as _

__all__ = ["list_events"]

_FIELDS = ("actor", "entity_type", "entity_id", "action", "since", "until")


def _time(raw: str, field: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise DomainError.single(field, _("%(field)s is not a date and time.") % {"field": field}, ErrorCode.INVALID) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@page
async def list_events(admin: Admin) -> Response:
    admin.scope.require("audit.read")
    query = admin.request.query_params
    values = {name: query.get(name, "").strip()[:254] for name in _FIELDS}
    errors = []
    try:
        filter = AuditFilter(
            actor_email=values["actor"] or None,
            entity_type=values["entity_type"] or None,
            entity_id=parse_id(values["entity_id"], "entity_id"),
            action=values["action"] or None,
            since=_time(values["since"], "since"),
            until=_time(values["until"], "until"),
        )
        events = await audit.list_audit_events(admin.scope, filter, PageArgs(first=50, after=query.get("after") or None))
    except DomainError as error:
        errors, events = input_errors(error), None
    actors = await audit.actors(admin.scope, sorted({e["actor_user_id"] for e in events.rows if e["actor_user_id"]})) if events else {}
    more = {k: v for k, v in values.items() if v}
    return render(admin.request, "audit.html", {
        "events": events, "actors": actors, "values": values, "entity_types": ENTITY_TYPES, "errors": errors,
        "filter_query": more,
    }, 400 if errors else 200, admin)
