"""Interactions: every touch with a customer (call, email, visit …), the customer's timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.audit import record
from models.customers import customers_by_ids
from models.errors import DomainError, ErrorCode
from models.pagination import Page, PageArgs, SortKey, fetch_pages
from models.scope import Scope, requires
from models.sql import Query, fetch
from models.validation import clean_all, clean_choice, clean_text, clean_utc

__all__ = [
    "Direction",
    "Interaction",
    "InteractionKind",
    "interaction_counts",
    "interactions_by_ids",
    "interactions_pages",
    "log_interaction",
]


class InteractionKind(str, Enum):
    CALL = "call"
    EMAIL = "email"
    SMS = "sms"
    WECHAT = "wechat"
    VISIT = "visit"
    MEETING = "meeting"
    NOTE = "note"


class Direction(str, Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Interaction(Model):
    id = fields.BigIntField(primary_key=True)
    customer = fields.ForeignKeyField("models.Customer", related_name="interactions", on_delete=fields.CASCADE)
    kind = fields.CharEnumField(InteractionKind, max_length=16)
    direction = fields.CharEnumField(Direction, max_length=8)
    channel = fields.CharField(max_length=64, null=True)
    occurred_at = fields.DatetimeField()
    summary = fields.TextField()
    outcome = fields.CharField(max_length=500, null=True)
    logged_by = fields.ForeignKeyField("models.User", related_name="interactions_logged", null=True, on_delete=fields.SET_NULL)
    """Who logged it: the public pool counts an owner's own touches."""
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "interaction"
        indexes = (("customer_id", "occurred_at", "id"),)


COLUMNS = ("id", "customer_id", "kind", "direction", "channel", "occurred_at", "summary", "outcome", "created_at")
_SELECT = ", ".join(f"i.{column}" for column in COLUMNS)
KEY = SortKey("i.occurred_at", "datetime", descending=True)


def _occurred_at(value: datetime | None) -> datetime:
    occurred_at = clean_utc(value, "occurredAt") or datetime.now(UTC)
    if occurred_at > datetime.now(UTC) + timedelta(minutes=5):
        raise DomainError.single("occurredAt", "an interaction cannot happen in the future.", ErrorCode.INVALID)
    return occurred_at


@requires("interaction.create", "customer.read")
async def log_interaction(scope: Scope, customer_id: int, data: dict[str, Any]) -> dict[str, Any]:
    values = clean_all(
        {
            "kind": lambda _: clean_choice(data.get("kind"), InteractionKind, "kind", required=True),
            "direction": lambda _: clean_choice(data.get("direction"), Direction, "direction", required=True),
            "channel": lambda _: clean_text(data.get("channel"), "channel", max_length=64),
            "occurred_at": lambda _: _occurred_at(data.get("occurred_at")),
            "summary": lambda _: clean_text(data.get("summary"), "summary", max_length=5000, required=True, multiline=True),
            "outcome": lambda _: clean_text(data.get("outcome"), "outcome", max_length=500, multiline=True),
        }
    )
    async with in_transaction() as connection:
        if customer_id not in await customers_by_ids(scope, [customer_id]):
            raise DomainError.single("customerId", "no such customer.", ErrorCode.NOT_FOUND)
        logged_by = scope.viewer.user_id if scope.viewer else None
        interaction = await Interaction.create(customer_id=customer_id, logged_by_id=logged_by, using_db=connection, **values)
        await record(scope, "interaction.create", "interaction", interaction.id,
                     after={"customer_id": customer_id, **values}, connection=connection, customer_id=customer_id)
    return {column: getattr(interaction, column) for column in COLUMNS}


def _source(scope: Scope, q: Query, customer_ids: list[int], kinds: frozenset[InteractionKind]) -> str:
    """The interactions of those of ``customer_ids`` the caller sees."""
    kind_filter = f" AND i.kind IN {q.in_list(sorted({k.value for k in kinds}))}" if kinds else ""
    return (
        f"interaction i JOIN customer c ON c.id = i.customer_id WHERE i.customer_id IN {q.in_list(customer_ids)}"
        f" AND {scope.customers(q, 'c')}{kind_filter}"
    )


async def interactions_pages(
    scope: Scope, customer_ids: list[int], args: PageArgs, kinds: frozenset[InteractionKind] = frozenset()
) -> dict[int, Page]:
    """Each customer's interactions, newest first."""
    q = Query()
    return await fetch_pages(
        q,
        customer_ids,
        select=_SELECT,
        source=_source(scope, q, customer_ids, kinds),
        parent="i.customer_id",
        key=KEY,
        args=args,
        model=Interaction,
    )


async def interaction_counts(
    scope: Scope, customer_ids: list[int], kinds: frozenset[InteractionKind] = frozenset()
) -> dict[int, int]:
    q = Query()
    sql = f"SELECT i.customer_id AS parent, COUNT(*) AS n FROM {_source(scope, q, customer_ids, kinds)} GROUP BY i.customer_id"
    return {row["parent"]: row["n"] for row in await fetch(sql, q)}


async def interactions_by_ids(scope: Scope, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Interactions by id, those of customers the scope hides left out."""
    q = Query()
    sql = (
        f"SELECT {_SELECT} FROM interaction i JOIN customer c ON c.id = i.customer_id"
        f" WHERE i.id IN {q.in_list(ids)} AND {scope.customers(q, 'c')}"
    )
    return {row["id"]: row for row in await fetch(sql, q, Interaction)}
