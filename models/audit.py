"""The audit log: who changed what, when and from where. Append-only, and read under scope.

Every write in models/ records an ``AuditEvent`` in the same transaction as the change, so
a change and its record commit or roll back together. Personal values (phone, email,
birthday) are kept masked and secrets (password and token hashes) not at all: the log is
read by auditors, who need to see that a phone number changed, not the number. The
database refuses UPDATE and DELETE on the table (triggers in migration 0004).

An event about customer data names its customer (``customer_id``; a link, both ends; a change
of referrer, the referrer), and is visible where they are, deleted or not. Other customers a
change mentions (a new customer's referrer, a referrer replaced) are shown by id only to a
reader who sees them, and as null to others, as that reader sees them everywhere else.
Events about staff, tokens, sessions and teams are visible where a manager with the reader's
scope reaches them; events about roles, SLA policies, the working calendar, complaint categories, settings,
exchange rates and saved segments to every reader (they belong to no team).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.pagination import Page, PageArgs, SortKey
from models.personal import masked
from models.scope import Scope
from models.sql import Query, fetch
from models.validation import clean_text, clean_utc

__all__ = [
    "CUSTOMER_DATA", "ENTITY_TYPES", "AuditEvent", "AuditFilter", "actors", "audit_events_by_ids", "count_audit_events",
    "diff", "list_audit_events", "record",
]

_SECRET_FIELDS = frozenset({"password", "password_hash", "token_hash", "key_hash"})
CUSTOMER_DATA = frozenset({
    "churn_alert", "complaint", "customer", "customer_link", "follow_up", "interaction", "order", "points_entry",
})
"""Entity types whose events are about a customer's data: recorded with the customer's id."""
ENTITY_TYPES = (
    *sorted(CUSTOMER_DATA), "user", "role", "team", "api_token", "admin_session", "sla_policy", "working_calendar",
    "complaint_category", "setting", "exchange_rate", "saved_segment", "report",
)


class AuditEvent(Model):
    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True)
    actor_user = fields.ForeignKeyField(
        "models.User", related_name="audit_events", null=True, on_delete=fields.RESTRICT
    )
    actor_token_id = fields.BigIntField(null=True)
    action = fields.CharField(max_length=50)
    entity_type = fields.CharField(max_length=30)
    entity_id = fields.BigIntField(null=True)
    changes = fields.JSONField(default=dict)
    client_ip = fields.CharField(max_length=45, null=True)
    # The customer(s) the event is about, for reading it under scope; no foreign key, so that
    # the log outlives what it records.
    customer_id = fields.BigIntField(null=True)
    other_customer_id = fields.BigIntField(null=True)

    class Meta:
        table = "audit_event"
        indexes = (("entity_type", "entity_id"), ("actor_user_id", "at"), ("at",))


def _plain(value: Any) -> Any:
    """A value as JSON keeps it: decimals as text (exact), times in ISO 8601."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``{field: {"from": …, "to": …}}`` for every field that differs, personal values masked."""
    before, after = before or {}, after or {}
    changes = {}
    for field in sorted(set(before) | set(after)):
        if field in _SECRET_FIELDS:
            continue
        old, new = _plain(before.get(field)), _plain(after.get(field))
        if old != new:
            changes[field] = {"from": masked(field, old), "to": masked(field, new)}
    return changes


async def record(
    scope: Scope | None,
    action: str,
    entity_type: str,
    entity_id: int | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    connection=None,
    actor_user_id: int | None = None,
    client_ip: str | None = None,
    customer_id: int | None = None,
    other_customer_id: int | None = None,
) -> None:
    """Append one event; pass the write's ``connection`` so that both commit together.

    An event about customer data (``CUSTOMER_DATA``) names its ``customer_id`` (a customer's own
    id by default) and, for a link, the ``other_customer_id``. Without a ``scope`` (a sign-in,
    before there is one) ``actor_user_id`` and ``client_ip`` say who and from where.
    """
    if entity_type == "customer" and customer_id is None:
        customer_id = entity_id
    if (entity_type in CUSTOMER_DATA) != (customer_id is not None):
        raise ValueError(f"an event about a {entity_type} names its customer, and only such an event does")
    viewer = scope.viewer if scope else None
    client_ip = scope.client_ip if scope else client_ip
    await AuditEvent.create(
        using_db=connection,
        actor_user_id=actor_user_id if actor_user_id is not None else viewer.user_id if viewer else None,
        actor_token_id=viewer.token_id if viewer else None,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        changes=diff(before, after),
        client_ip=client_ip[:45] if client_ip else None,
        customer_id=customer_id,
        other_customer_id=other_customer_id,
    )


@dataclass(frozen=True)
class AuditFilter:
    """Narrows the audit log; every condition given must hold."""

    actor_user_id: int | None = None
    actor_email: str | None = None
    entity_type: str | None = None
    entity_id: int | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self, q: Query) -> list[str]:
        conditions = []
        if self.actor_user_id is not None:
            conditions.append(f"e.actor_user_id = {q.param(self.actor_user_id)}")
        if self.actor_email:
            email = clean_text(self.actor_email, "actor", max_length=254).lower()
            conditions.append(f"e.actor_user_id IN (SELECT id FROM staff_user WHERE email = {q.param(email)})")
        if self.entity_type:
            conditions.append(f"e.entity_type = {q.param(clean_text(self.entity_type, 'entityType', max_length=30))}")
        if self.entity_id is not None:
            conditions.append(f"e.entity_id = {q.param(self.entity_id)}")
        if self.action:
            conditions.append(f"e.action = {q.param(clean_text(self.action, 'action', max_length=50))}")
        if self.since is not None:
            conditions.append(f"e.at >= {q.param(clean_utc(self.since, 'since'))}")
        if self.until is not None:
            conditions.append(f"e.at < {q.param(clean_utc(self.until, 'until'))}")
        return conditions


_KEY = SortKey("e.at", "datetime", descending=True)
_SELECT = "e.id, e.at, e.actor_user_id, e.actor_token_id, e.action, e.entity_type, e.entity_id, e.changes, e.client_ip"


def _visible(scope: Scope, q: Query) -> str:
    """The condition "event ``e`` is one this caller may read" (see the module's docstring)."""
    if scope.everywhere and scope.can("customer.read"):
        return "1 = 1"
    if scope.can("customer.read"):
        def seen(column: str) -> str:
            return f"EXISTS (SELECT 1 FROM customer c WHERE c.id = {column} AND {scope.customers(q, 'c', live=False)})"

        about_customers = (
            f"(e.customer_id IS NOT NULL AND {seen('e.customer_id')}"
            f" AND (e.other_customer_id IS NULL OR {seen('e.other_customer_id')}))"
        )
    else:
        about_customers = "1 = 0"
    if scope.everywhere:
        return f"(e.customer_id IS NULL OR {about_customers})"
    about_staff = (
        "(e.entity_type IN ('role', 'sla_policy', 'working_calendar', 'complaint_category', 'setting', 'exchange_rate', 'saved_segment')"
        f" OR (e.entity_type = 'team' AND {scope.teams(q, 'e.entity_id')})"
        f" OR (e.entity_type = 'user' AND EXISTS (SELECT 1 FROM staff_user u WHERE u.id = e.entity_id AND {scope.users(q, 'u')}))"
        " OR (e.entity_type = 'api_token' AND EXISTS (SELECT 1 FROM api_token t JOIN staff_user u ON u.id = t.user_id"
        f" WHERE t.id = e.entity_id AND {scope.users(q, 'u')}))"
        " OR (e.entity_type = 'admin_session' AND EXISTS (SELECT 1 FROM admin_session s JOIN staff_user u ON u.id = s.user_id"
        f" WHERE s.id = e.entity_id AND {scope.users(q, 'u')})))"
    )
    return f"((e.customer_id IS NULL AND {about_staff}) OR {about_customers})"


async def list_audit_events(scope: Scope, filter: AuditFilter, args: PageArgs) -> Page:
    """The log as the caller may read it, newest first."""
    scope.require("audit.read")
    args = args.checked()
    q = Query()
    conditions = [_visible(scope, q), *filter.where(q)]
    if (keyset := args.keyset_condition(_KEY, q, "e")) is not None:
        conditions.append(keyset)
    sql = (
        f"SELECT {_SELECT} FROM audit_event e WHERE {' AND '.join(conditions)} "
        f"ORDER BY {args.order_by(_KEY, 'e')} LIMIT {args.size + 1}"
    )
    return Page.from_rows(await _as_seen(scope, await fetch(sql, q, AuditEvent)), args, _KEY)


# Fields of ``changes`` that hold the id of a customer.
_CUSTOMER_REFERENCES = ("referrer_id", "from_customer_id", "to_customer_id", "customer_id")


async def _as_seen(scope: Scope, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events with the ids of customers the reader cannot see, in their changes, as null."""
    if scope.everywhere and scope.can("customer.read"):
        return rows
    mentioned = {
        value for row in rows for field in _CUSTOMER_REFERENCES if field in row["changes"]
        for value in row["changes"][field].values() if value is not None
    }
    seen: set[int] = set()
    if mentioned and scope.can("customer.read"):
        q = Query()
        sql = f"SELECT c.id FROM customer c WHERE c.id IN {q.in_list(sorted(mentioned))} AND {scope.customers(q, 'c', live=False)}"
        seen = {row["id"] for row in await fetch(sql, q)}
    for row in rows:
        for field in _CUSTOMER_REFERENCES:
            if field in row["changes"]:
                row["changes"][field] = {end: value if value in seen else None for end, value in row["changes"][field].items()}
    return rows


async def actors(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Who acted in events the caller may read: id, email and display name, no more."""
    if not scope.can("audit.read") or not ids:
        return {}
    q = Query()
    rows = await fetch(f"SELECT id, email, display_name FROM staff_user WHERE id IN {q.in_list(ids)}", q)
    return {row["id"]: row for row in rows}


async def count_audit_events(scope: Scope, filter: AuditFilter) -> int:
    scope.require("audit.read")
    q = Query()
    rows = await fetch(f"SELECT COUNT(*) AS n FROM audit_event e WHERE {' AND '.join([_visible(scope, q), *filter.where(q)])}", q)
    return rows[0]["n"]


async def audit_events_by_ids(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Events by id, those the caller may not read left out."""
    if not scope.can("audit.read") or not ids:
        return {}
    q = Query()
    rows = await fetch(
        f"SELECT {_SELECT} FROM audit_event e WHERE e.id IN {q.in_list(ids)} AND {_visible(scope, q)}", q, AuditEvent
    )
    return {row["id"]: row for row in await _as_seen(scope, rows)}
