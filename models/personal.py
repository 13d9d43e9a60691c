"""Personal data shown in part: enough for staff to recognise a value, not to use it."""

from __future__ import annotations

from typing import Any

__all__ = ["PERSONAL_FIELDS", "mask_email", "mask_phone", "masked"]

PERSONAL_FIELDS = frozenset({"phone", "email", "birthday"})


def mask_phone(phone: str | None) -> str | None:
    """+8613812345678 reads +86138****5678: enough to recognise, not to call."""
    if phone is None:
        return None
    return phone[:-8] + "****" + phone[-4:] if len(phone) > 8 else "****"


def mask_email(email: str | None) -> str | None:
    """zhang.wei@example.com reads z***@example.com."""
    if email is None:
        return None
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def masked(field: str, value: Any) -> Any:
    """``value`` of a personal ``field`` masked; birthdays are withheld whole."""
    if value is None or field not in PERSONAL_FIELDS:
        return value
    if field == "phone":
        return mask_phone(value)
    if field == "email":
        return mask_email(value)
    return "****"
