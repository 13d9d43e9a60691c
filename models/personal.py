"""Personal data shown in part: enough for staff to recognise a value, not to use it."""

from __future__ import annotations

from typing import Any

__all__ = ["PERSONAL_FIELDS", "mask_email", "mask_email_sql", "mask_phone", "mask_phone_sql", "masked"]

PERSONAL_FIELDS = frozenset({"phone", "email", "birthday"})


def mask_phone(phone: str | None) -> str | None:
    """+8613812345678 reads +86138****5678: enough to recognise, not to call."""
    if phone is None:
        return None
    return phone[:-8] + "****" + phone[-4:] if len(phone) > 8 else "****"


def mask_phone_sql(column: str) -> str:
    """``mask_phone`` in PostgreSQL, for a statement that builds its answer itself (schema/compiler.py)."""
    return (
        f"CASE WHEN {column} IS NULL THEN NULL WHEN length({column}) > 8"
        f" THEN left({column}, length({column}) - 8) || '****' || right({column}, 4) ELSE '****' END"
    )


def mask_email(email: str | None) -> str | None:
    """zhang.wei@example.com reads z***@example.com."""
    if email is None:
        return None
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_email_sql(column: str) -> str:
    """``mask_email`` in PostgreSQL: the first character of the local part, then the domain."""
    at = f"strpos({column}, '@')"
    return (
        f"CASE WHEN {column} IS NULL THEN NULL WHEN {at} > 0"
        f" THEN left(left({column}, {at} - 1), 1) || '***@' || substr({column}, {at} + 1)"
        f" ELSE left({column}, 1) || '***@' END"
    )


def masked(field: str, value: Any) -> Any:
    """``value`` of a personal ``field`` masked; birthdays are withheld whole."""
    if value is None or field not in PERSONAL_FIELDS:
        return value
    if field == "phone":
        return mask_phone(value)
    if field == "email":
        return mask_email(value)
    return "****"
