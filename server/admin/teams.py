"""Teams in the admin: the hierarchy as a tree; create, rename, move (never below itself), name a lead."""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse, Response

from models import staff
from models.errors import DomainError, FieldError
from server.admin.pages import Admin, form_id, input_errors, page, path_id, render

__all__ = ["create_team", "list_teams", "update_team"]


def _tree(teams: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Teams nested under their parents, each level by name; a team whose parent is out of the
    caller's reach stands at the top of what it sees."""
    shown = {team["id"] for team in teams}
    children: dict[int | None, list[dict[str, Any]]] = {}
    for team in teams:
        children.setdefault(team["parent_id"] if team["parent_id"] in shown else None, []).append(team)

    def below(parent: int | None, depth: int) -> list[dict[str, Any]]:
        return [{**team, "depth": depth, "children": below(team["id"], depth + 1)} for team in children.get(parent, [])]

    return below(None, 0)


async def _page(admin: Admin, status: int = 200, errors: list[FieldError] | None = None) -> Response:
    teams = await staff.all_teams(admin.scope)
    return render(admin.request, "teams.html", {
        "tree": _tree(teams), "teams": teams, "shown": {team["id"] for team in teams}, "errors": errors or [],
        **await _leads(admin),
    }, status, admin)


async def _leads(admin: Admin) -> dict[str, Any]:
    leads = await staff.lead_choices(admin.scope)
    return {"leads": leads, "lead_ids": {person["id"] for person in leads}}


@page
async def list_teams(admin: Admin) -> Response:
    admin.scope.require("role.manage")
    return await _page(admin)


@page
async def create_team(admin: Admin) -> Response:
    try:
        await staff.create_team(admin.scope, admin.form.get("name", ""), form_id(admin.form, "parent_id", "parentId"))
    except DomainError as error:
        return await _page(admin, 400, input_errors(error))
    return RedirectResponse("/admin/teams", status_code=303)


@page
async def update_team(admin: Admin) -> Response:
    changes = {"name": admin.form.get("name", ""), "parent_id": form_id(admin.form, "parent_id", "parentId")}
    if "lead_id" in admin.form:
        changes["lead_id"] = form_id(admin.form, "lead_id", "leadId")
    try:
        await staff.update_team(admin.scope, path_id(admin.request), changes)
    except DomainError as error:
        return await _page(admin, 400, input_errors(error))
    return RedirectResponse("/admin/teams", status_code=303)
