"""Who is asking: a signed-in user's id, team, rights and widest data scope.

Its own module, apart from the tables it is read from (access.py), so that the visibility rule
(scope.py) and the audit log, which both need it, do not import each other through access.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from models.permissions import PERMISSIONS, DataScope

__all__ = ["Viewer", "rights"]


@dataclass(frozen=True)
class Viewer:
    """Who is asking: a user's id, team, rights and widest scope."""

    user_id: int
    team_id: int | None
    permissions: frozenset[str]
    scope: DataScope
    token_id: int | None = None
    session_id: int | None = None

    def can(self, code: str) -> bool:
        return code in self.permissions


def rights(is_superuser: bool, roles: Iterable[tuple[Iterable[str], str]]) -> tuple[frozenset[str], DataScope]:
    """Every permission and ALL for a superuser, else the union of the roles' ``(permissions, data scope)``."""
    if is_superuser:
        return frozenset(PERMISSIONS), DataScope.ALL
    roles = list(roles)
    permissions = frozenset(code for codes, _ in roles for code in codes)
    scope = max((DataScope(data_scope) for _, data_scope in roles), key=lambda s: s.breadth, default=DataScope.OWN)
    return permissions, scope
