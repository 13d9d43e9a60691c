"""Scalars with strict parsing: money as a decimal string, times with a UTC offset.

Each parser raises ``ScalarError`` with a message meant for the client; graphql-core reports
it as a variable or argument error before any resolver runs.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import NewType

import strawberry

__all__ = ["SCALAR_MAP", "Long", "ScalarError"]



class ScalarError(ValueError):
    """A value a kehu scalar refuses; its message is written for the client."""


_DECIMAL = re.compile(r"^-?\d{1,20}(\.\d{1,10})?$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse_decimal(value: object) -> Decimal:
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise ScalarError('Decimal values are strings such as "199.00", never floats.')
    return Decimal(value)


def _parse_datetime(value: object) -> datetime:
    if not isinstance(value, str) or not _DATETIME.match(value):
        raise ScalarError('DateTime values are ISO 8601 with an offset, such as "2026-05-01T09:30:00Z".')
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # astimezone overflows for 0001-01-01T00:00+01:00
        raise ScalarError(f"{value!r} is not a real date and time.") from None


def _serialize_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_date(value: object) -> date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ScalarError('Date values are ISO 8601 dates such as "1990-04-23".')
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ScalarError(f"{value!r} is not a real date.") from None


_LONG = 2**53 - 1


def _parse_long(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _LONG:
        raise ScalarError(f"Long values are whole numbers from -{_LONG} to {_LONG}.")
    return value


Long = NewType("Long", int)
"""A whole number beyond GraphQL's 32-bit Int."""

SCALAR_MAP = {
    Long: strawberry.scalar(
        name="Long",
        description="A whole number beyond 32 bits, up to ±(2^53 − 1) so that JavaScript reads it exactly: point balances and totals.",
        serialize=int,
        parse_value=_parse_long,
    ),
    Decimal: strawberry.scalar(
        name="Decimal",
        description='An exact decimal number sent as a string, such as "199.00".',
        serialize=str,
        parse_value=_parse_decimal,
    ),
    datetime: strawberry.scalar(
        name="DateTime",
        description='A point in time, ISO 8601 with an offset; answers are in UTC ("2026-05-01T09:30:00Z").',
        serialize=_serialize_datetime,
        parse_value=_parse_datetime,
    ),
    date: strawberry.scalar(
        name="Date",
        description='A calendar date, ISO 8601 ("1990-04-23").',
        serialize=date.isoformat,
        parse_value=_parse_date,
    ),
}
