"""Expected failures of domain operations: what the caller did wrong, with a code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["DomainError", "ErrorCode", "FieldError"]


class ErrorCode(str, Enum):
    INVALID = "invalid"
    REQUIRED = "required"
    TOO_LONG = "too_long"
    NOT_FOUND = "not_found"
    DUPLICATE = "duplicate"
    CYCLE = "cycle"
    SELF_LINK = "self_link"
    FORBIDDEN = "forbidden"
    IN_USE = "in_use"
    RATE_LIMITED = "rate_limited"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    INVALID_TRANSITION = "invalid_transition"
    TAKEN = "taken"
    INSUFFICIENT_POINTS = "insufficient_points"


@dataclass(frozen=True)
class FieldError:
    field: str | None
    message: str
    code: ErrorCode
    existing: tuple[str, int] | None = None
    """For DUPLICATE: the kind and id of the record that already holds the value."""


class DomainError(Exception):
    """One or more field errors; the operation changed nothing."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors

    @classmethod
    def single(cls, field: str | None, message: str, code: ErrorCode, existing=None) -> DomainError:
        return cls([FieldError(field, message, code, existing)])
