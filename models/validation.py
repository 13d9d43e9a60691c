"""Input cleaning shared by every domain operation: text, phones, emails, money, JSON.

Every value is checked here before the database sees it, so a driver message ("value too
long", "int too large") never reaches a client.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar

from models.errors import DomainError, ErrorCode

__all__ = [
    "MAX_ID",
    "clean_all",
    "clean_choice",
    "clean_currency",
    "clean_custom_fields",
    "clean_email",
    "clean_phone",
    "clean_positive_amount",
    "clean_tags",
    "clean_text",
    "clean_utc",
    "in_minor_units",
    "not_in_future",
]

MAX_ID = 2**63 - 1
E = TypeVar("E", bound=Enum)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_CN_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
# A Chinese landline without its leading 0: area code (10, 2x or a 3-digit one) and number.
_CN_LANDLINE = re.compile(r"^(?:(?:10|2[0-9])[0-9]{8}|[3-9][0-9]{2}[0-9]{7,8})$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_TAG = re.compile(r"^[^\s,][^,]{0,49}$")

# ISO 4217 codes in use, with their minor units; amounts may not be finer than these.
_CURRENCIES = {
    **dict.fromkeys(
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP "
        "BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
        "GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT "
        "LAK LBP LKR LRD LSL MAD MDL MKD MMK MNT MOP MRU MUR MVR MWN MXN MYR MZN NAD NGN NIO "
        "NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE "
        "SOS SRD SSP STN SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD "
        "YER ZAR ZMW ZWG".split(),
        2,
    ),
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}
# Below 10^11: NUMERIC(18, 4) holds it, and SQLite sums stay exact integers (models/sql.py).
_MAX_AMOUNT = Decimal("99999999999.9999")


def clean_all(cleaners: dict[str, Callable[[dict[str, Any]], Any]]) -> dict[str, Any]:
    """Run every cleaner and report every error at once, not only the first.

    A cleaner gets the values cleaned before it (the amount needs the currency); one whose
    input already failed is skipped, that failure being reported already.
    """
    cleaned: dict[str, Any] = {}
    errors = []
    for key, clean in cleaners.items():
        try:
            cleaned[key] = clean(cleaned)
        except DomainError as error:
            errors.extend(error.errors)
        except KeyError:
            continue
    if errors:
        raise DomainError(errors)
    return cleaned


def clean_text(
    value: str | None, field: str, *, max_length: int, required: bool = False, multiline: bool = False
) -> str | None:
    """Strip, reject control characters and lone surrogates, enforce a length."""
    if value is None:
        if required:
            raise DomainError.single(field, f"{field} is required.", ErrorCode.REQUIRED)
        return None
    if _SURROGATE.search(value):
        raise DomainError.single(field, f"{field} is not valid Unicode text.", ErrorCode.INVALID)
    text = value.strip()
    probe = text.replace("\n", "").replace("\r", "").replace("\t", "") if multiline else text
    if _CONTROL.search(probe) or (not multiline and re.search(r"[\n\r\t]", text)):
        raise DomainError.single(field, f"{field} contains control characters.", ErrorCode.INVALID)
    if not text:
        if required:
            raise DomainError.single(field, f"{field} must not be blank.", ErrorCode.REQUIRED)
        return None
    if len(text) > max_length:
        raise DomainError.single(
            field, f"{field} is longer than {max_length} characters.", ErrorCode.TOO_LONG
        )
    return text


def clean_phone(value: str | None, field: str = "phone") -> str | None:
    """A Chinese mobile number or an E.164 number, stored as E.164 (+8613812345678)."""
    text = clean_text(value, field, max_length=32)
    if text is None:
        return None
    compact = re.sub(r"[\s\-().]", "", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not compact.lstrip("+").isascii():
        raise DomainError.single(field, "phone must be written with the digits 0-9.", ErrorCode.INVALID)
    if _CN_MOBILE.match(compact):
        return "+86" + compact
    if compact.startswith("+86"):
        national = compact[3:]
        if _CN_MOBILE.match(national) or _CN_LANDLINE.match(national):
            return compact
        raise DomainError.single(field, "phone is not a valid Chinese mobile or landline number.", ErrorCode.INVALID)
    if _E164.match(compact):
        return compact
    raise DomainError.single(
        field,
        "phone must be a Chinese mobile number (13812345678) or in E.164 form (+442071234567).",
        ErrorCode.INVALID,
    )


def clean_email(value: str | None, field: str = "email") -> str | None:
    text = clean_text(value, field, max_length=254)
    if text is None:
        return None
    if not _EMAIL.match(text) or len(text.split("@")[0]) > 64 or ".." in text:
        raise DomainError.single(field, "email is not a valid address.", ErrorCode.INVALID)
    local, domain = text.rsplit("@", 1)
    return f"{local}@{domain.lower()}".lower()


def not_in_future(value: date | None, field: str) -> date | None:
    if value is not None and value > datetime.now(UTC).date():
        raise DomainError.single(field, f"{field} cannot be in the future.", ErrorCode.INVALID)
    if value is not None and value.year < 1900:
        raise DomainError.single(field, f"{field} is before 1900.", ErrorCode.INVALID)
    return value


def clean_utc(value: datetime | None, field: str) -> datetime | None:
    """Times are stored as timezone-aware UTC; a naive time is read as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if not 1900 <= value.year <= 2999:
        raise DomainError.single(field, f"{field} must be between the years 1900 and 2999.", ErrorCode.INVALID)
    return value


def clean_choice(value, enum: type[E], field: str, *, required: bool = False) -> E | None:
    """A member of ``enum`` given as itself, its value or its name; anything else is INVALID."""
    if value is None:
        if required:
            raise DomainError.single(field, f"{field} is required.", ErrorCode.REQUIRED)
        return None
    try:
        return enum(value)
    except ValueError:
        if isinstance(value, str) and value in enum.__members__:
            return enum[value]
        choices = ", ".join(member.name for member in enum)
        raise DomainError.single(field, f"{field} must be one of {choices}.", ErrorCode.INVALID) from None


def in_minor_units(amount: Decimal, currency: str) -> Decimal:
    """An amount to its currency's minor unit: 199.5000 CNY is 199.50, 5000.0000 JPY is 5000."""
    return amount.quantize(Decimal(1).scaleb(-_CURRENCIES.get(currency, 2)))


def in_minor_units_sql(amount: str, currency: str) -> str:
    """``in_minor_units`` in PostgreSQL, as text (what the Decimal scalar answers). Stored amounts
    never carry more places than their currency has (``clean_positive_amount``): ``round`` only
    sets the scale, so its rounding rule never comes into it."""
    odd = sorted((places, code) for code, places in _CURRENCIES.items() if places != 2)
    cases = " ".join(f"WHEN '{code}' THEN {places}" for places, code in odd)
    return f"round({amount}, CASE {currency} {cases} ELSE 2 END)::text"


def clean_currency(value: str, field: str = "currency") -> str:
    code = (value or "").strip().upper()
    if code not in _CURRENCIES:
        raise DomainError.single(field, f"{(value or '')[:10]!r} is not an ISO 4217 currency code.", ErrorCode.INVALID)
    return code


def clean_positive_amount(value: Decimal, currency: str, field: str = "amount") -> Decimal:
    try:
        finite = value.is_finite()
    except (AttributeError, InvalidOperation):
        finite = False
    if not finite:
        raise DomainError.single(field, f"{field} must be a finite decimal number.", ErrorCode.INVALID)
    if value <= 0:
        raise DomainError.single(field, f"{field} must be greater than zero.", ErrorCode.INVALID)
    if value > _MAX_AMOUNT:
        raise DomainError.single(field, f"{field} is larger than {_MAX_AMOUNT}.", ErrorCode.INVALID)
    places = _CURRENCIES[currency]
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise DomainError.single(
            field, f"{currency} amounts have at most {places} decimal places.", ErrorCode.INVALID
        )
    return value.quantize(Decimal(1).scaleb(-places))


def clean_tags(values: list[str] | None, field: str = "tags") -> list[str] | None:
    """Tags are short labels, unique per customer, at most 50 of them."""
    if values is None:
        return None
    tags: list[str] = []
    for raw in values:
        tag = clean_text(raw, field, max_length=50, required=True)
        if not _TAG.match(tag):
            raise DomainError.single(field, f"tag {tag!r} may not contain commas.", ErrorCode.INVALID)
        if tag not in tags:
            tags.append(tag)
    if len(tags) > 50:
        raise DomainError.single(field, "a customer has at most 50 tags.", ErrorCode.INVALID)
    return tags


def _check_json_value(value: Any, field: str) -> None:
    if isinstance(value, str):
        clean_text(value, field, max_length=2000, multiline=True)
    elif isinstance(value, float) and not math.isfinite(value):
        raise DomainError.single(field, f"{field} values must be finite numbers.", ErrorCode.INVALID)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        raise DomainError.single(field, f"{field} numbers must be below 2^53.", ErrorCode.INVALID)
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise DomainError.single(
            field, f"{field} values must be strings, numbers, booleans or null.", ErrorCode.INVALID
        )


def clean_custom_fields(value: Any, field: str = "customFields") -> dict[str, Any] | None:
    """A flat JSON object: up to 50 keys of up to 64 characters, scalar values, 16 KiB."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise DomainError.single(field, f"{field} must be a JSON object.", ErrorCode.INVALID)
    if len(value) > 50:
        raise DomainError.single(field, f"{field} has more than 50 keys.", ErrorCode.INVALID)
    for key, item in value.items():
        clean_text(key, field, max_length=64, required=True)
        _check_json_value(item, field)
    if len(json.dumps(value, ensure_ascii=False)) > 16_384:
        raise DomainError.single(field, f"{field} is larger than 16 KiB.", ErrorCode.TOO_LONG)
    return value
