"""The one visibility rule: which customers, staff and teams a caller reaches, and what of them.

Every statement that returns data about customers (a list, ``node(id:)``, a referrer, a tree,
a statistic, interactions, orders, links, tags, audit events) renders its WHERE clause through
``Scope.customers``, whatever its parent was, so all paths see the same set: a customer outside
it is absent everywhere, never half-shown. Staff, tokens and teams are reached through
``Scope.users`` and ``Scope.teams`` in the same way: a manager with TEAM or TEAM_AND_SUBTEAMS
scope reaches only its own team set, one with ALL scope everything. Every operation asks for
its permission (``requires``, ``Scope.require``), and every customer row leaves through
``Scope.present``, which masks personal data without ``customer.pii``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

from models.db import connection
from models.errors import DomainError, ErrorCode
from models.permissions import DataScope
from models.personal import mask_email, mask_phone
from models.sql import Query
from models.viewer import Viewer

__all__ = ["Scope", "requires"]

# What a caller without customer.pii sees of each personal column.
_MASKS = {"phone": mask_phone, "email": mask_email, "birthday": lambda _: None}
_NOTHING = "1 = 0"
_EVERYTHING = "1 = 1"

Operation = TypeVar("Operation", bound=Callable[..., Awaitable[Any]])


@dataclass(frozen=True)
class Scope:
    """What a caller may do and see. ``viewer`` None with ``system`` set: the CLI and demo loader."""

    viewer: Viewer | None = None
    team_ids: tuple[int, ...] = ()
    """The teams the caller reaches: its own with TEAM, with those below it with TEAM_AND_SUBTEAMS,
    none with OWN (ALL reaches every team without listing them)."""
    system: bool = False
    client_ip: str | None = None
    """Where the request came from, for the audit log."""
    _seen: set[Hashable] = field(default_factory=set, compare=False, repr=False)
    """What this request has done that may be done once a request (``first_in_request``)."""

    @classmethod
    def of_system(cls) -> Scope:
        return cls(system=True)

    @classmethod
    def anonymous(cls, client_ip: str | None = None) -> Scope:
        return cls(client_ip=client_ip)

    @classmethod
    async def for_viewer(cls, viewer: Viewer, client_ip: str | None = None) -> Scope:
        if viewer.team_id is None or viewer.scope in (DataScope.OWN, DataScope.ALL):
            return cls(viewer, client_ip=client_ip)
        if viewer.scope is DataScope.TEAM:
            return cls(viewer, (viewer.team_id,), client_ip=client_ip)
        q = Query()
        rows = await connection().execute_query_dict(
            f"WITH RECURSIVE below(id, n) AS (SELECT id, 0 FROM team WHERE id = {q.param(viewer.team_id)}"
            " UNION ALL SELECT t.id, below.n + 1 FROM team t JOIN below ON t.parent_id = below.id"
            " WHERE below.n < 100) SELECT DISTINCT id FROM below",
            q.params,
        )
        return cls(viewer, tuple(sorted(row["id"] for row in rows)), client_ip=client_ip)

    @property
    def everywhere(self) -> bool:
        """The system, or a caller with ALL scope: its reach has no bounds."""
        return self.system or (self.viewer is not None and self.viewer.scope is DataScope.ALL)

    def can(self, code: str) -> bool:
        return self.system or (self.viewer is not None and self.viewer.can(code))

    def require(self, *codes: str) -> None:
        """Refuse unless the caller is signed in and holds one of ``codes`` (any, when none are named)."""
        if self.viewer is None and not self.system:
            raise DomainError.single(None, "sign in first: send Authorization: Bearer <token>.", ErrorCode.FORBIDDEN)
        if codes and not any(self.can(code) for code in codes):
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

    # Customers

    def customers(self, q: Query, alias: str, *, live: bool = True) -> str:
        """The condition "customer ``alias`` is visible"; ``live=False`` keeps soft-deleted ones (for the audit log)."""
        self.require("customer.read")
        conditions = [f"{alias}.deleted_at IS NULL"] if live else []
        if not self.everywhere:
            if self.viewer.scope is DataScope.OWN or not self.team_ids:
                conditions.append(f"{alias}.owner_id = {q.param(self.viewer.user_id)}")
            else:
                conditions.append(f"{alias}.team_id IN {q.in_list(self.team_ids)}")
        return " AND ".join(conditions) or _EVERYTHING

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

    # Staff and teams: what a manager reaches

    def users(self, q: Query, alias: str) -> str:
        """The condition "staff user ``alias`` is within reach": everyone with ALL scope, the members
        of the caller's team set with TEAM or TEAM_AND_SUBTEAMS, otherwise the caller alone."""
        if self.everywhere:
            return _EVERYTHING
        if self.viewer is None:
            return _NOTHING
        me = f"{alias}.id = {q.param(self.viewer.user_id)}"
        if not self.team_ids:
            return me
        return f"({alias}.team_id IN {q.in_list(self.team_ids)} OR {me})"

    def teams(self, q: Query, column: str) -> str:
        """The condition "the team ``column`` names is within reach" (a null team is only with ALL)."""
        if self.everywhere:
            return _EVERYTHING
        return f"{column} IN {q.in_list(self.team_ids)}" if self.team_ids else _NOTHING

    def reaches_team(self, team_id: int | None) -> bool:
        """``teams`` for one team already read: may this caller place staff in it, or change it?"""
        return self.everywhere or team_id in self.team_ids

    def reaches_user(self, user_id: int, team_id: int | None) -> bool:
        """``users`` for one account already read."""
        return self.everywhere or (self.viewer is not None and user_id == self.viewer.user_id) or team_id in self.team_ids

    def first_in_request(self, key: Hashable) -> bool:
        """True the first time this request (a batch being one request) asks with ``key``."""
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def requires(*codes: str) -> Callable[[Operation], Operation]:
    """Declare an operation's permissions (every one of ``codes``; none: any signed-in caller).

    The operation refuses without them, and a replay of it (models/idempotency.py) asks for
    them again through ``operation.check(scope)``: one statement of what it needs.
    """

    def declare(operation: Operation) -> Operation:
        @wraps(operation)
        async def checked(scope: Scope, *args: Any, **kwargs: Any) -> Any:
            check(scope)
            return await operation(scope, *args, **kwargs)

        def check(scope: Scope) -> None:
            scope.require()
            for code in codes:
                scope.require(code)

        checked.check = check  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return declare
