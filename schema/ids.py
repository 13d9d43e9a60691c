"""Global IDs: opaque to clients, ``base64("Customer:42")`` inside."""

from __future__ import annotations

import base64
import binascii
import re

from models.errors import DomainError, ErrorCode
from models.validation import MAX_ID

__all__ = ["NODE_TYPES", "from_global_id", "to_global_id", "to_global_id_sql"]

NODE_TYPES = (
    "Customer", "CustomerLink", "Interaction", "Order", "Complaint", "ComplaintEvent", "Notification", "FollowUp", "ChurnAlert", "User",
    "Role", "Team", "ApiToken", "AuditEvent", "SavedSegment",
)
_DECODED = re.compile(r"^([A-Za-z]+):([1-9][0-9]{0,18})$")


def to_global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def to_global_id_sql(type_name: str, column: str) -> str:
    """``to_global_id`` in PostgreSQL's SQL, of the integer ``column``. Base64 works in groups of
    three bytes: where ``"<type_name>:"`` fills whole groups, its part is a constant and only the
    digits are encoded (a tenth of the statement's time on nested pages)."""
    prefix = f"{type_name}:".encode()
    if len(prefix) % 3 == 0:
        return f"'{base64.b64encode(prefix).decode()}' || encode({column}::text::bytea, 'base64')"
    return f"encode(convert_to('{type_name}:' || {column}, 'UTF8'), 'base64')"


def from_global_id(value: str, field: str, expected: str | None = None) -> tuple[str, int]:
    """Decode and check a global ID; a malformed one is INVALID, a wrong type NOT_FOUND."""
    match = None
    if isinstance(value, str) and len(value) <= 64:
        try:
            match = _DECODED.fullmatch(base64.b64decode(value, validate=True).decode("ascii"))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            match = None
    if match is None or match.group(1) not in NODE_TYPES or int(match.group(2)) > MAX_ID:
        raise DomainError.single(field, f"{field} is not a valid ID.", ErrorCode.INVALID)
    type_name, pk = match.group(1), int(match.group(2))
    if expected is not None and type_name != expected:
        raise DomainError.single(field, f"{field} is not the ID of a {expected}.", ErrorCode.NOT_FOUND)
    return type_name, pk
