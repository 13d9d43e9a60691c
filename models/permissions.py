"""Permission codes and data scopes: the one list that the API, the admin and roles use."""

from __future__ import annotations

from enum import Enum

__all__ = ["PERMISSIONS", "DataScope"]

PERMISSIONS: dict[str, str] = {
    "customer.read": "See customers, their graph, interactions and orders",
    "customer.create": "Create customers",
    "customer.update": "Change customers, referrers and links",
    "customer.delete": "Delete customers",
    "customer.pii": "See phone numbers, emails and birthdays unmasked",
    "customer.export": "Export customer data",
    "interaction.create": "Log interactions",
    "order.create": "Record orders",
    "complaint.read": "See complaints",
    "complaint.create": "File complaints",
    "complaint.handle": "Work complaints through their states",
    "complaint.assign": "Assign complaints to staff",
    "user.manage": "Create, change and deactivate staff accounts",
    "role.manage": "Create and change roles and teams",
    "token.manage": "Create and revoke API tokens",
    "audit.read": "Read the audit log",
}


class DataScope(str, Enum):
    """Which customers a role sees; a user with several roles gets the widest."""

    OWN = "own"
    TEAM = "team"
    TEAM_AND_SUBTEAMS = "team_and_subteams"
    ALL = "all"

    @property
    def breadth(self) -> int:
        return list(DataScope).index(self)
