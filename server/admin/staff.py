"""Staff accounts in the admin: list with search, create, edit team and roles, deactivate, reset password."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from models import staff
from models.errors import DomainError, ErrorCode
from models.pagination import PageArgs
from models.staff import UserFilter
from server.admin.pages import Admin, form_id, form_ids, input_errors, page, path_id, render
from server.i18n import gettext as _

__all__ = ["create_user", "edit_user", "list_users", "reset_password", "set_active", "update_user"]


async def _choices(admin: Admin) -> dict:
    return {
        "teams": await staff.all_teams(admin.scope),
        "roles": (await staff.list_roles(admin.scope, PageArgs(first=100))).rows,
    }


async def _list(admin: Admin, status: int = 200, errors: list | None = None, values: dict | None = None) -> Response:
    query = admin.request.query_params
    search = query.get("q", "")[:100]
    page_ = await staff.list_users(admin.scope, UserFilter(search=search or None), PageArgs(first=50, after=query.get("after") or None))
    teams = {team["id"]: team["name"] for team in await staff.all_teams(admin.scope)}
    return render(admin.request, "staff.html", {
        "page": page_, "q": search, "team_names": teams, "errors": errors or [], "values": values or {},
        **await _choices(admin),
    }, status, admin)


@page
async def list_users(admin: Admin) -> Response:
    return await _list(admin)


@page
async def create_user(admin: Admin) -> Response:
    form = admin.form
    try:
        await staff.create_user(
            admin.scope, form.get("email", ""), form.get("display_name", ""), form.get("password", ""),
            form_id(form, "team_id", "teamId"), form_ids(form, "role_ids", "roleIds"),
        )
    except DomainError as error:
        values = {"email": form.get("email", ""), "display_name": form.get("display_name", "")}
        return await _list(admin, 400, input_errors(error), values)
    return RedirectResponse("/admin/staff", status_code=303)


async def _edit(admin: Admin, user_id: int, status: int = 200, errors: list | None = None, notice: str | None = None) -> Response:
    users = await staff.users_by_ids(admin.scope, [user_id])
    if user_id not in users:
        raise DomainError.single("id", _("no such user."), ErrorCode.NOT_FOUND)
    role_ids = (await staff.role_ids_by_user([user_id]))[user_id]
    return render(admin.request, "staff_edit.html", {
        "user": users[user_id], "role_ids": role_ids, "errors": errors or [], "notice": notice, **await _choices(admin),
    }, status, admin)


@page
async def edit_user(admin: Admin) -> Response:
    admin.scope.require("user.manage")
    return await _edit(admin, path_id(admin.request))


@page
async def update_user(admin: Admin) -> Response:
    user_id, form = path_id(admin.request), admin.form
    changes = {
        "display_name": form.get("display_name", ""),
        "team_id": form_id(form, "team_id", "teamId"),
        "role_ids": form_ids(form, "role_ids", "roleIds"),
    }
    try:
        await staff.update_user(admin.scope, user_id, changes)
    except DomainError as error:
        return await _edit(admin, user_id, 400, input_errors(error))
    return await _edit(admin, user_id, notice=_("Saved."))


@page
async def set_active(admin: Admin) -> Response:
    user_id = path_id(admin.request)
    if admin.form.get("active") == "true":
        await staff.reactivate_user(admin.scope, user_id)
        return await _edit(admin, user_id, notice=_("Reactivated."))
    await staff.deactivate_user(admin.scope, user_id)
    return await _edit(admin, user_id, notice=_("Deactivated: their sessions and tokens stopped working."))


@page
async def reset_password(admin: Admin) -> Response:
    user_id = path_id(admin.request)
    try:
        await staff.reset_password(admin.scope, user_id, admin.form.get("password", ""))
    except DomainError as error:
        return await _edit(admin, user_id, 400, input_errors(error))
    return await _edit(admin, user_id, notice=_("Password set; their sessions and sign-in tokens ended."))
