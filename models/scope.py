"""The one visibility rule: which customers a caller may see.

Every read of customers (a list, ``node(id:)``, a nested referrer, a referral tree, a
statistic) builds its WHERE clause through ``Scope.customers``, so all paths see the same
set: a customer outside it is absent everywhere, never half-shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.sql import Query

__all__ = ["Scope"]


@dataclass(frozen=True)
class Scope:
    """What a caller may see. Today every live (not deleted) customer."""

    def customers(self, q: Query, alias: str) -> str:
        return f"{alias}.deleted_at IS NULL"
