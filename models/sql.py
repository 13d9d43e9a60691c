"""Set-based reads in plain SQL, portable between SQLite and PostgreSQL.

The read path fetches rows as values (dicts), not ORM objects: window functions and
recursive CTEs that Tortoise's query builder cannot express, and no hydration cost.
``Query`` collects parameters and writes the right placeholder for the dialect; ``fetch``
runs the statement and converts columns back to Python values with the models' own fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tortoise.models import Model

from models.db import connection, dialect

__all__ = ["Query", "fetch", "money", "money_sum"]

_MONEY_SCALE = Decimal(10000)


class Query:
    """A parameter list that renders numbered placeholders: ``$1`` for asyncpg, ``?1`` for SQLite.

    Numbered, so that a condition may be built before the text that precedes it.
    """

    def __init__(self) -> None:
        self.dialect = dialect()
        self.params: list[Any] = []

    def param(self, value: Any) -> str:
        if self.dialect == "sqlite":
            # Tortoise stores SQLite datetimes as str(datetime): compare in the same form.
            if isinstance(value, datetime) or isinstance(value, date):
                value = str(value)
            elif isinstance(value, Decimal):
                value = str(value)
            self.params.append(value)
            return f"?{len(self.params)}"
        self.params.append(value)
        return f"${len(self.params)}"

    def in_list(self, values: Iterable[Any]) -> str:
        return "(" + ", ".join(self.param(v) for v in values) + ")"

    def id_set(self, ids: list[int]) -> str:
        """``ids`` as one parameter, for ``x IN …``: a set-based write may touch more rows than a
        statement takes parameters."""
        if self.dialect == "sqlite":
            return f"(SELECT value FROM json_each({self.param(json.dumps(ids))}))"
        return f"(SELECT unnest({self.param(ids)}::bigint[]))"

    def json(self, text: str) -> str:
        """A JSON document (as text) for a JSON column."""
        return self.param(text) if self.dialect == "sqlite" else f"{self.param(text)}::jsonb"


def money_sum(column: str) -> str:
    """SUM of a decimal column, exact on both databases (see ``money``).

    SQLite keeps decimals as text and would sum them as floats. kehu sums the whole units
    and the 1/10000s separately, as integers: neither sum can overflow (amounts are below
    10^11), and ``money`` joins the two. The result is text there: sort it in Python.
    """
    if dialect() == "sqlite":
        whole = f"CAST({column} AS INTEGER)"
        fraction = f"CAST(ROUND(({column} - {whole}) * 10000) AS INTEGER)"
        return f"(SUM({whole}) || ' ' || SUM({fraction}))"
    return f"SUM({column})"


def money(value: Any) -> Decimal | None:
    """Turn what ``money_sum`` returned into a Decimal."""
    if value is None:
        return None
    if dialect() == "sqlite":
        whole, fraction = str(value).split()
        return Decimal(whole) + Decimal(fraction) / _MONEY_SCALE
    return Decimal(value)


async def fetch(sql: str, query: Query, model: type[Model] | None = None) -> list[dict[str, Any]]:
    """Run ``sql``; with ``model``, columns named like its fields become Python values."""
    rows = await connection().execute_query_dict(sql, query.params)
    if model is None or query.dialect != "sqlite":
        # asyncpg already returns datetimes, dates and Decimals; JSON comes back as text.
        if model is not None:
            _decode_json(rows, model)
        return rows
    fields = model._meta.fields_map
    converters = {}
    for key in rows[0] if rows else ():
        field = fields.get(key) or fields.get(key.removesuffix("_id"))
        if field is not None and field.__class__.__name__ in _CONVERTED:
            converters[key] = field
    if converters:
        for row in rows:
            for key, field in converters.items():
                row[key] = field.to_python_value(row[key])
    return rows


_CONVERTED = {"DatetimeField", "DateField", "DecimalField", "JSONField"}


def _decode_json(rows: list[dict[str, Any]], model: type[Model]) -> None:
    json_fields = [
        name for name, field in model._meta.fields_map.items() if field.__class__.__name__ == "JSONField"
    ]
    for name in json_fields:
        decode = model._meta.fields_map[name].to_python_value
        for row in rows:
            raw = row.get(name)
            if isinstance(raw, str):
                # Most custom fields are empty: a page of them need not go through the parser.
                row[name] = {} if raw == "{}" else decode(raw)
