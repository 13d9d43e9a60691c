"""The one visibility rule: which customers a caller may see, and what of them.

Every read of customers (a list, ``node(id:)``, a nested referrer, a referral tree, a
statistic) builds its WHERE clause through ``Scope.customers``, so all paths see the same
set: a customer outside it is absent everywhere, never half-shown. Every operation asks
``Scope.require`` for its permission, and every customer row leaves through
``Scope.present``, which masks personal data without ``customer.pii``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.access import Viewer
from models.db import connection
from models.errors import DomainError, ErrorCode
from models.permissions import DataScope
from models.sql import Query

__all__ = ["Scope", "mask_email", "mask_phone"]


@dataclass(frozen=True)
class Scope:
    """What a caller may do and see. ``viewer`` None with ``system`` set: the CLI and demo loader."""

    viewer: Viewer | None = None
    team_ids: tuple[int, ...] = ()
    system: bool = False

    @classmethod
    def of_system(cls) -> Scope:
        return cls(system=True)

    @classmethod
    def anonymous(cls) -> Scope:
        return cls()

    @classmethod
    async def for_viewer(cls, viewer: Viewer) -> Scope:
        if viewer.team_id is None or viewer.scope is not DataScope.TEAM_AND_SUBTEAMS:
            return cls(viewer, (viewer.team_id,) if viewer.team_id is not None else ())
        q = Query()
        rows = await connection().execute_query_dict(
            f"WITH RECURSIVE below(id, n) AS (SELECT id, 0 FROM team WHERE id = {q.param(viewer.team_id)}"
            " UNION ALL SELECT t.id, below.n + 1 FROM team t JOIN below ON t.parent_id = below.id"
            " WHERE below.n < 100) SELECT DISTINCT id FROM below",
            q.params,
        )
        return cls(viewer, tuple(sorted(row["id"] for row in rows)))

    def can(self, code: str) -> bool:
        return self.system or (self.viewer is not None and self.viewer.can(code))

    def require(self, code: str) -> None:
        if self.viewer is None and not self.system:
            raise DomainError.single(None, "sign in first: send Authorization: Bearer <token>.", ErrorCode.FORBIDDEN)
        if not self.can(code):
            raise DomainError.single(None, f"this needs the permission {code}.", ErrorCode.FORBIDDEN)

    def customers(self, q: Query, alias: str) -> str:
        self.require("customer.read")
        live = f"{alias}.deleted_at IS NULL"
        if self.system or self.viewer.scope is DataScope.ALL:
            return live
        if self.viewer.scope is DataScope.OWN:
            return f"{live} AND {alias}.owner_id = {q.param(self.viewer.user_id)}"
        if not self.team_ids:
            return f"{live} AND {alias}.owner_id = {q.param(self.viewer.user_id)}"
        return f"{live} AND {alias}.team_id IN {q.in_list(self.team_ids)}"

    def present(self, row: dict[str, Any]) -> dict[str, Any]:
        """A customer row as this caller may see it: masked without ``customer.pii``."""
        if self.can("customer.pii"):
            return row
        return {**row, "phone": mask_phone(row["phone"]), "email": mask_email(row["email"]), "birthday": None}

    def owner(self) -> dict[str, int | None]:
        """Who owns what this caller creates."""
        if self.viewer is None:
            return {}
        return {"owner_id": self.viewer.user_id, "team_id": self.viewer.team_id}


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
