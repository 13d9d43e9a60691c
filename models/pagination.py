"""Keyset pagination: a page is "the n rows after this sort key", never an OFFSET.

A cursor is the sort key of a row plus its id, opaque to clients. Every list in kehu pages
this way, so a page deep in a list costs what the first page costs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from models.errors import DomainError, ErrorCode
from models.sql import Query, fetch
from models.validation import MAX_ID

__all__ = [
    "DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "Page", "PageArgs", "SortKey", "fetch_pages",
]

# A cursor's text never reaches the database with a NUL or a lone surrogate in it.
_UNSAFE_TEXT = re.compile(r"[\x00\ud800-\udfff]")
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class SortKey:
    """A column to sort by, tie-broken by ``id``; ``kind`` says how its cursor value is kept."""

    column: str
    kind: str  # "datetime", "date", "text" or "int"
    descending: bool

    @property
    def name(self) -> str:
        """The column without its table alias: its key in a row."""
        return self.column.rsplit(".", 1)[-1]

    def encode(self, row: dict[str, Any]) -> str:
        value = row[self.name]
        if self.kind in ("datetime", "date"):
            value = value.isoformat()
        raw = json.dumps([self.column, value, row["id"]], ensure_ascii=False, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def decode(self, cursor: str, field: str) -> tuple[Any, int]:
        bad = DomainError.single(field, f"{field} is not a cursor from this list.", ErrorCode.INVALID)
        if len(cursor) > 1000:
            raise bad
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            column, value, row_id = json.loads(raw.decode())
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
            raise bad from None
        if column != self.column or not isinstance(row_id, int) or not 0 < row_id <= MAX_ID:
            raise bad
        try:
            if self.kind == "datetime":
                value = datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError
                value = value.astimezone(UTC)
                if not 1900 <= value.year <= 2999:
                    raise ValueError
            elif self.kind == "date":
                if not isinstance(value, str) or len(value) != 10:
                    raise ValueError
                value = date.fromisoformat(value)
            elif self.kind == "int":
                if not isinstance(value, int) or isinstance(value, bool) or abs(value) > MAX_ID:
                    raise ValueError
            elif not isinstance(value, str) or len(value) > 500 or _UNSAFE_TEXT.search(value):
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise bad from None
        return value, row_id


@dataclass(frozen=True)
class PageArgs:
    """``first/after`` or ``last/before``, checked once for every list."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    @property
    def forward(self) -> bool:
        return self.last is None and self.before is None

    @property
    def size(self) -> int:
        return self.first if self.forward else self.last  # type: ignore[return-value]

    def checked(self, largest: int = MAX_PAGE_SIZE) -> PageArgs:
        """These arguments made whole (the default page size), or refused; at most ``largest`` items
        (an export reads larger pages than a client may ask for)."""
        if self.after is not None and self.before is not None:
            raise DomainError.single("before", "use after or before, not both.", ErrorCode.INVALID)
        if self.first is not None and (self.last is not None or self.before is not None):
            raise DomainError.single("first", "use first/after or last/before, not both.", ErrorCode.INVALID)
        if self.last is not None and self.after is not None:
            raise DomainError.single("last", "use first/after or last/before, not both.", ErrorCode.INVALID)
        for name in ("first", "last"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= largest:
                raise DomainError.single(name, f"{name} must be between 0 and {largest}, not {value}.", ErrorCode.INVALID)
        if self.first is None and self.last is None:
            if self.before is not None:
                return PageArgs(last=DEFAULT_PAGE_SIZE, before=self.before)
            return PageArgs(first=DEFAULT_PAGE_SIZE, after=self.after)
        return self

    def keyset_condition(self, key: SortKey, q: Query, alias: str = "") -> str | None:
        """The WHERE condition that starts the page after (or before) the cursor."""
        cursor = self.after if self.forward else self.before
        if cursor is None:
            return None
        value, row_id = key.decode(cursor, "after" if self.forward else "before")
        # Walking forward through a descending list means going to smaller keys.
        smaller = key.descending == self.forward
        op = "<" if smaller else ">"
        prefix = f"{alias}." if alias else ""
        return f"({key.column}, {prefix}id) {op} ({q.param(value)}, {q.param(row_id)})"

    def order_by(self, key: SortKey, alias: str = "") -> str:
        descending = key.descending == self.forward
        direction = "DESC" if descending else "ASC"
        prefix = f"{alias}." if alias else ""
        return f"{key.column} {direction}, {prefix}id {direction}"


@dataclass
class Page:
    """One page of rows in list order, with what the connection needs to know around it."""

    rows: list[dict[str, Any]]
    has_next: bool
    has_previous: bool
    key: SortKey

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]], args: PageArgs, key: SortKey) -> Page:
        """``rows`` were fetched with one extra row, in ``args.order_by`` order."""
        more = len(rows) > args.size
        rows = rows[: args.size]
        if args.forward:
            return cls(rows, has_next=more, has_previous=args.after is not None, key=key)
        rows.reverse()
        return cls(rows, has_next=args.before is not None, has_previous=more, key=key)

    def cursor(self, row: dict[str, Any]) -> str:
        return self.key.encode(row)


async def fetch_pages(
    q: Query,
    parents: list[int],
    *,
    select: str,
    source: str,
    parent: str,
    key: SortKey,
    args: PageArgs,
    model: type | None = None,
) -> dict[int, Page]:
    """One statement for a page of children under each of many parents (latest n per parent).

    ``select`` lists the child columns, ``source`` is the ``FROM … WHERE …`` that picks the
    children of every parent in ``parents``, ``parent`` the column naming a row's parent. A window
    function numbers each parent's rows, so only the rows of the page leave the database.
    """
    args = args.checked()
    where = source
    if (keyset := args.keyset_condition(key, q, key.column.split(".")[0])) is not None:
        where += f" AND {keyset}"
    alias = key.column.split(".")[0]
    sql = (
        f"SELECT * FROM (SELECT {select}, {parent} AS parent_id__, ROW_NUMBER() OVER "
        f"(PARTITION BY {parent} ORDER BY {args.order_by(key, alias)}) AS rn__ FROM {where}) t "
        f"WHERE rn__ <= {args.size + 1} ORDER BY parent_id__, rn__"
    )
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in await fetch(sql, q, model):
        del row["rn__"]
        grouped.setdefault(row.pop("parent_id__"), []).append(row)
    return {parent_id: Page.from_rows(grouped.get(parent_id, []), args, key) for parent_id in parents}
