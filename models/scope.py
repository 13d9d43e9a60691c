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
from models.personal import mask_email, mask_phone
from models.sql import Query

__all__ = ["Scope"]

# What a caller without customer.pii sees of each personal column.
_MASKS = {"phone": mask_phone, "email": mask_email, "birthday": lambda _: None}


@dataclass(frozen=True)
class Scope:
    """What a caller may do and see. ``viewer`` None with ``system`` set: the CLI and demo loader."""

    viewer: Viewer | None = None
    team_ids: tuple[int, ...] = ()
    system: bool = False
    client_ip: str | None = None
    """Where the request came from, for the audit log."""

    @classmethod
    def of_system(cls) -> Scope:
        return cls(system=True)

    @classmethod
    def anonymous(cls, client_ip: str | None = None) -> Scope:
        return cls(client_ip=client_ip)

    @classmethod
    async def for_viewer(cls, viewer: Viewer, client_ip: str | None = None) -> Scope:
        if viewer.team_id is None or viewer.scope is not DataScope.TEAM_AND_SUBTEAMS:
            return cls(viewer, (viewer.team_id,) if viewer.team_id is not None else (), client_ip=client_ip)
        q = Query()
        rows = await connection().execute_query_dict(
            f"WITH RECURSIVE below(id, n) AS (SELECT id, 0 FROM team WHERE id = {q.param(viewer.team_id)}"
            " UNION ALL SELECT t.id, below.n + 1 FROM team t JOIN below ON t.parent_id = below.id"
            " WHERE below.n < 100) SELECT DISTINCT id FROM below",
            q.params,
        )
        return cls(viewer, tuple(sorted(row["id"] for row in rows)), client_ip=client_ip)

    def can(self, code: str) -> bool:
        return self.system or (self.viewer is not None and self.viewer.can(code))

    def require(self, *codes: str) -> None:
        """Refuse unless the caller holds one of ``codes``."""
        if self.viewer is None and not self.system:
            raise DomainError.single(None, "sign in first: send Authorization: Bearer <token>.", ErrorCode.FORBIDDEN)
        if not any(self.can(code) for code in codes):
            raise DomainError.single(None, f"this needs the permission {' or '.join(codes)}.", ErrorCode.FORBIDDEN)

    def within(self, permissions: frozenset[str] | set[str], scope: DataScope) -> bool:
        """Whether ``permissions`` and ``scope`` are no more than this caller holds: what they may grant."""
        if self.system:
            return True
        return (
            self.viewer is not None
            and set(permissions) <= self.viewer.permissions
            and scope.breadth <= self.viewer.scope.breadth
        )

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
        """A customer row (of any of its columns) as this caller may see it: masked without ``customer.pii``."""
        if self.can("customer.pii"):
            return row
        return {key: _MASKS[key](value) if key in _MASKS else value for key, value in row.items()}

    def owner(self) -> dict[str, int | None]:
        """Who owns what this caller creates."""
        if self.viewer is None:
            return {}
        return {"owner_id": self.viewer.user_id, "team_id": self.viewer.team_id}

