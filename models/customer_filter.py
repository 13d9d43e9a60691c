"""Which customers a list shows: the conditions of ``customers(filter:)``, the admin's customer
list and the saved segments (models/saved_segments.py), rendered to SQL in one place.

Every condition names customer ``c``; the caller adds ``Scope.customers``. A filter is also
kept as JSON (``to_json``/``from_json``), so that a saved segment evaluates it live.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.birthdays import MAX_DAYS, business_today, celebrated_within
from models.complaints import OPEN
from models.customers import Source
from models.errors import DomainError, ErrorCode, FieldError
from models.orders import paid
from models.scope import Scope
from models.segments import Stage, Tier
from models.sql import Query
from models.validation import MAX_ID, clean_tags, clean_text, clean_utc

__all__ = ["CustomerFilter"]

MAX_IDS = 50
_SCORES = ("recency", "frequency", "monetary")
_SCORE_COLUMNS = {"recency": "r", "frequency": "f", "monetary": "m"}


@dataclass(frozen=True)
class CustomerFilter:
    """All given conditions hold; ``None`` and empty ones do not narrow."""

    search: str | None = None
    tags: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    tiers: tuple[Tier, ...] = ()
    stages: tuple[Stage, ...] = ()
    recency_min: int | None = None
    recency_max: int | None = None
    frequency_min: int | None = None
    frequency_max: int | None = None
    monetary_min: int | None = None
    monetary_max: int | None = None
    owner_ids: tuple[int, ...] = ()
    team_ids: tuple[int, ...] = ()
    last_paid_after: datetime | None = None
    last_paid_before: datetime | None = None
    has_open_complaint: bool | None = None
    birthday_within_days: int | None = None

    def _checked(self, scope: Scope) -> list[FieldError]:
        errors = []
        for score in _SCORES:
            low, high = getattr(self, f"{score}_min"), getattr(self, f"{score}_max")
            for name, value in ((f"{score}Min", low), (f"{score}Max", high)):
                if value is not None and not (isinstance(value, int) and 1 <= value <= 5):
                    errors.append(FieldError(name, "an RFM score is from 1 to 5.", ErrorCode.INVALID))
            if isinstance(low, int) and isinstance(high, int) and low > high:
                errors.append(FieldError(f"{score}Max", "must not be below the minimum.", ErrorCode.INVALID))
        for name, ids in (("ownerIds", self.owner_ids), ("teamIds", self.team_ids)):
            if len(ids) > MAX_IDS or any(not isinstance(i, int) or not 0 < i <= MAX_ID for i in ids):
                errors.append(FieldError(name, f"at most {MAX_IDS} ids.", ErrorCode.INVALID))
        if (days := self.birthday_within_days) is not None:
            if not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
                errors.append(FieldError("birthdayWithinDays", f"from 0 to {MAX_DAYS} days.", ErrorCode.INVALID))
            elif not scope.can("customer.pii"):
                # Birthdays are personal: a filter by them would tell what masking hides.
                errors.append(FieldError("birthdayWithinDays", "filtering by birthday needs customer.pii.", ErrorCode.FORBIDDEN))
        if self.has_open_complaint is not None and not scope.can("complaint.read"):
            # Complaints are read with complaint.read: a filter by them would tell who has one.
            errors.append(FieldError("hasOpenComplaint", "filtering by complaints needs complaint.read.", ErrorCode.FORBIDDEN))
        if len(self.tags) > 10:
            errors.append(FieldError("tags", "filter by at most 10 tags.", ErrorCode.INVALID))
        return errors

    async def where(self, q: Query, scope: Scope) -> list[str]:
        """The conditions on customer ``c``; refuses a bad filter with every error at once."""
        if errors := self._checked(scope):
            raise DomainError(errors)
        conditions: list[str] = []
        search = clean_text(self.search, "search", max_length=100)
        if search:
            conditions.append(_search_condition(search, q, scope.can("customer.pii")))
        for tag in clean_tags(list(self.tags)) or []:
            conditions.append(f"EXISTS (SELECT 1 FROM customer_tag t WHERE t.customer_id = c.id AND t.tag = {q.param(tag)})")
        if self.sources:
            conditions.append(f"c.source IN {q.in_list(sorted({Source(s).value for s in self.sources}))}")
        if self.created_after is not None:
            conditions.append(f"c.created_at >= {q.param(clean_utc(self.created_after, 'createdAfter'))}")
        if self.created_before is not None:
            conditions.append(f"c.created_at < {q.param(clean_utc(self.created_before, 'createdBefore'))}")
        if segment := self._segment(q):
            conditions.append(f"EXISTS (SELECT 1 FROM customer_segment s WHERE s.customer_id = c.id AND {' AND '.join(segment)})")
        if self.owner_ids:
            conditions.append(f"c.owner_id IN {q.in_list(sorted(set(self.owner_ids)))}")
        if self.team_ids:
            conditions.append(f"c.team_id IN {q.in_list(sorted(set(self.team_ids)))}")
        last_paid = f"(SELECT MAX(o.placed_at) FROM orders o WHERE o.customer_id = c.id AND {paid('o')})"
        if self.last_paid_after is not None:
            conditions.append(f"{last_paid} >= {q.param(clean_utc(self.last_paid_after, 'lastPaidAfter'))}")
        if self.last_paid_before is not None:
            conditions.append(f"{last_paid} < {q.param(clean_utc(self.last_paid_before, 'lastPaidBefore'))}")
        if self.has_open_complaint is not None:
            statuses = ", ".join(f"'{status.value}'" for status in OPEN)  # literals, as the partial indexes state them
            exists = f"EXISTS (SELECT 1 FROM complaint k WHERE k.customer_id = c.id AND k.status IN ({statuses}))"
            conditions.append(exists if self.has_open_complaint else f"NOT {exists}")
        if self.birthday_within_days is not None:
            today = await business_today()
            conditions.append(f"c.birthday IS NOT NULL AND {celebrated_within(q, 'c.birthday', today, self.birthday_within_days)}")
        return conditions

    def _segment(self, q: Query) -> list[str]:
        said = []
        if self.tiers:
            said.append(f"s.tier IN {q.in_list(sorted({Tier(t).value for t in self.tiers}))}")
        if self.stages:
            said.append(f"s.stage IN {q.in_list(sorted({Stage(s).value for s in self.stages}))}")
        for score, column in _SCORE_COLUMNS.items():
            if (low := getattr(self, f"{score}_min")) is not None:
                said.append(f"s.{column} >= {q.param(low)}")
            if (high := getattr(self, f"{score}_max")) is not None:
                said.append(f"s.{column} <= {q.param(high)}")
        return said

    def to_json(self) -> dict[str, Any]:
        """The conditions given, as JSON values (what a saved segment keeps)."""
        kept: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None or value == ():
                continue
            if isinstance(value, tuple):
                value = [item.value if hasattr(item, "value") else item for item in value]
            elif isinstance(value, datetime):
                value = clean_utc(value, field.name).isoformat()
            kept[field.name] = value
        return kept

    @classmethod
    def from_json(cls, kept: dict[str, Any]) -> CustomerFilter:
        kinds = {"tags": str, "sources": Source, "tiers": Tier, "stages": Stage, "owner_ids": int, "team_ids": int}
        values: dict[str, Any] = {}
        for name, value in kept.items():
            if name in kinds:
                values[name] = tuple(kinds[name](item) for item in value)
            elif name.endswith(("_after", "_before")):
                values[name] = datetime.fromisoformat(value)
            else:
                values[name] = value
        return cls(**values)


def _like(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def _search_condition(search: str, q: Query, personal: bool) -> str:
    """Name, email or phone contains the text; digits also match inside phone numbers.

    Without ``customer.pii`` only names are searched: a search must not reveal what masking hides.
    """
    like = "ILIKE" if q.dialect == "postgres" else "LIKE"
    pattern = _like(search)
    columns = ("name", "email") if personal else ("name",)
    parts = [f"c.{column} {like} {q.param(pattern)} ESCAPE '\\'" for column in columns]
    digits = re.sub(r"[\s\-()+]", "", search)
    if personal and digits.isdigit() and len(digits) >= 3:
        parts.append(f"c.phone LIKE {q.param(_like(digits))} ESCAPE '\\'")
    return "(" + " OR ".join(parts) + ")"
