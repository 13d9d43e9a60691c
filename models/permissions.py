"""Permission codes and data scopes: the one list that the API, the admin and roles use.

What a permission reaches is bounded by the holder's data scope. Customers: OWN reaches the
ones the holder owns, TEAM its team's, TEAM_AND_SUBTEAMS its team's and those of the teams below,
ALL every one. Staff, tokens and teams (the "team set"): TEAM reaches its own team,
TEAM_AND_SUBTEAMS that team and those below, ALL every one, OWN only the holder itself.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["PERMISSIONS", "DataScope"]

PERMISSIONS: dict[str, str] = {
    "customer.read": "See the customers of your data scope: their graph, interactions, orders, links and tags",
    "customer.create": "Create customers, owned by you in your team",
    "customer.update": "Change customers of your data scope, their referrers and links",
    "customer.delete": "Delete customers of your data scope",
    "customer.pii": "See phone numbers, emails and birthdays unmasked, and search by them",
    "customer.export": "Export customer data",
    "interaction.create": "Log interactions with customers of your data scope",
    "order.create": "Record orders of customers of your data scope",
    "order.update": "Mark orders of customers of your data scope paid, refunded or cancelled",
    "loyalty.redeem": "Redeem points of customers of your data scope",
    "loyalty.adjust": "Add or deduct points of customers of your data scope by hand, with a reason",
    "customer.claim": "See your team's public pool (公海) and claim customers from it, up to the daily limit",
    "customer.configure": "Change the tier rules, exchange rates, follow-up recurrence, churn, public pool and loyalty settings",
    "complaint.read": "See the complaints of customers of your data scope, and those assigned to you",
    "complaint.create": "File complaints about customers of your data scope",
    "complaint.handle": "Work complaints through their states, note and reply, record survey answers",
    "complaint.assign": "Assign complaints to staff of your team set who handle complaints",
    "complaint.configure": "Change the SLA policies and the working calendar",
    "user.manage": "Create, change and deactivate the staff accounts of your team set, with roles within your rights",
    "role.manage": "Create and change roles within your rights, and the teams of your team set",
    "token.manage": "Create, list and revoke API tokens of staff in your team set whose rights are within yours",
    "audit.read": "Read the audit log: events about customers of your data scope, and staff, tokens and teams of your team set",
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
