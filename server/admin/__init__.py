"""The browser admin at ``/admin``: my day (follow-ups, churn alerts, birthdays), complaints,
customers, service levels, staff, roles, teams,
API tokens and the audit log.

Server-rendered with Jinja2, made lively with htmx; a thin face over models/, which checks
every permission the same way for the admin as for the API.
"""

from __future__ import annotations

from starlette.routing import Mount, Route

from server.admin import (
    audit,
    complaints,
    customers,
    dashboard,
    loyalty,
    reports,
    roles,
    rules,
    service_levels,
    sessions,
    staff,
    teams,
    today,
    tokens,
)

__all__ = ["admin_mount"]


def admin_mount() -> Mount:
    return Mount("/admin", routes=[
        Route("/", sessions.home),
        Route("/dashboard/{panel:str}", dashboard.panel),
        Route("/login", sessions.login, methods=["GET", "POST"]),
        Route("/logout", sessions.logout, methods=["POST"]),
        Route("/language", sessions.set_language, methods=["POST"]),
        Route("/staff", staff.list_users),
        Route("/staff", staff.create_user, methods=["POST"]),
        Route("/staff/{id:int}", staff.edit_user),
        Route("/staff/{id:int}", staff.update_user, methods=["POST"]),
        Route("/staff/{id:int}/active", staff.set_active, methods=["POST"]),
        Route("/staff/{id:int}/password", staff.reset_password, methods=["POST"]),
        Route("/roles", roles.list_roles),
        Route("/roles", roles.create_role, methods=["POST"]),
        Route("/roles/{id:int}/permissions/{code}", roles.set_permission, methods=["POST"]),
        Route("/roles/{id:int}/scope", roles.set_scope, methods=["POST"]),
        Route("/roles/{id:int}/delete", roles.delete_role, methods=["POST"]),
        Route("/teams", teams.list_teams),
        Route("/teams", teams.create_team, methods=["POST"]),
        Route("/teams/{id:int}", teams.update_team, methods=["POST"]),
        Route("/tokens", tokens.list_tokens),
        Route("/tokens", tokens.create_token, methods=["POST"]),
        Route("/tokens/{id:int}/revoke", tokens.revoke_token, methods=["POST"]),
        Route("/explore", tokens.explore, methods=["POST"]),
        Route("/audit", audit.list_events),
        Route("/complaints", complaints.queue),
        Route("/complaints/rows", complaints.queue_rows),
        Route("/complaints/events", complaints.events),
        Route("/complaints/{id:int}", complaints.complaint_page),
        Route("/complaints/{id:int}/move", complaints.move, methods=["POST"]),
        Route("/complaints/{id:int}/assign", complaints.assign, methods=["POST"]),
        Route("/complaints/{id:int}/notes", complaints.add_note, methods=["POST"]),
        Route("/today", today.today),
        Route("/today/follow-ups/{id:int}/done", today.done, methods=["POST"]),
        Route("/today/follow-ups/{id:int}/snooze", today.snooze, methods=["POST"]),
        Route("/today/follow-ups/{id:int}/reassign", today.reassign, methods=["POST"]),
        Route("/today/pool/{id:int}/claim", today.claim, methods=["POST"]),
        Route("/rules", rules.edit),
        Route("/rules", rules.update, methods=["POST"]),
        Route("/rules/rates", rules.set_rate, methods=["POST"]),
        Route("/customers", customers.search),
        Route("/customers/segments", customers.save_segment, methods=["POST"]),
        Route("/customers/segments/{id:int}/delete", customers.delete_segment, methods=["POST"]),
        Route("/customers/{id:int}", customers.customer_page),
        Route("/reports/segments/{id:int}.csv", reports.segment_csv),
        Route("/reports/ledger.csv", reports.ledger_csv),
        Route("/customers/{id:int}/points/redeem", loyalty.redeem, methods=["POST"]),
        Route("/customers/{id:int}/points/adjust", loyalty.adjust, methods=["POST"]),
        Route("/service-levels", service_levels.edit),
        Route("/service-levels/policies", service_levels.update_policy, methods=["POST"]),
        Route("/service-levels/hours", service_levels.update_hours, methods=["POST"]),
        Route("/service-levels/days", service_levels.set_day, methods=["POST"]),
        Route("/service-levels/categories", service_levels.set_category, methods=["POST"]),
    ])
