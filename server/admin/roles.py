"""Roles in the admin: the permission matrix (a tick saves at once through htmx), data scopes,
create and delete (a role in use is refused until nobody holds it)."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from models import staff
from models.errors import DomainError, ErrorCode, FieldError
from models.pagination import PageArgs
from models.permissions import PERMISSIONS, DataScope
from server.admin.pages import Admin, input_errors, page, path_id, render
from server.i18n import gettext as _

__all__ = ["create_role", "delete_role", "list_roles", "set_permission", "set_scope"]


async def _matrix(admin: Admin, status: int = 200, errors: list[FieldError] | None = None, values: dict | None = None) -> Response:
    roles = (await staff.list_roles(admin.scope, PageArgs(first=100))).rows
    counts = await staff.role_user_counts([role["id"] for role in roles])
    return render(admin.request, "roles.html", {
        "roles": roles, "counts": counts, "permissions": PERMISSIONS, "scopes": list(DataScope),
        "errors": errors or [], "values": values or {},
    }, status, admin)


async def _row(admin: Admin, role_id: int, error: str | None = None) -> Response:
    """One role's row of the matrix, as it now is in the database: what htmx swaps in."""
    role = (await staff.roles_by_ids(admin.scope, [role_id])).get(role_id)
    if role is None:
        raise DomainError.single("id", _("no such role."), ErrorCode.NOT_FOUND)
    counts = await staff.role_user_counts([role_id])
    return render(admin.request, "_role_row.html", {
        "role": role, "counts": counts, "permissions": PERMISSIONS, "scopes": list(DataScope), "error": error,
    }, admin=admin)


@page
async def list_roles(admin: Admin) -> Response:
    admin.scope.require("role.manage")
    return await _matrix(admin)


@page
async def set_permission(admin: Admin) -> Response:
    role_id, code = path_id(admin.request), admin.request.path_params["code"]
    try:
        await staff.set_role_permission(admin.scope, role_id, code, admin.form.get("granted") == "on")
    except DomainError as error:
        return await _refused(admin, role_id, error)
    return await _row(admin, role_id)


async def _refused(admin: Admin, role_id: int, error: DomainError) -> Response:
    """The row as stored, with why the change was refused: htmx swaps it in, so the box un-ticks itself.
    Without role.manage there is no row to show: the refusal is the 403 page."""
    if error.errors[0].code is ErrorCode.NOT_FOUND or not admin.can("role.manage"):
        raise error
    return await _row(admin, role_id, str(error))


@page
async def set_scope(admin: Admin) -> Response:
    role_id = path_id(admin.request)
    try:
        await staff.update_role(admin.scope, role_id, {"data_scope": admin.form.get("data_scope", "")})
    except DomainError as error:
        return await _refused(admin, role_id, error)
    return await _row(admin, role_id)


@page
async def create_role(admin: Admin) -> Response:
    form = admin.form
    values = {"name": form.get("name", ""), "description": form.get("description", ""), "data_scope": form.get("data_scope", "")}
    try:
        await staff.create_role(admin.scope, values["name"], form.getlist("permissions"), values["data_scope"], values["description"])
    except DomainError as error:
        return await _matrix(admin, 400, input_errors(error), values)
    return RedirectResponse("/admin/roles", status_code=303)


@page
async def delete_role(admin: Admin) -> Response:
    try:
        await staff.delete_role(admin.scope, path_id(admin.request))
    except DomainError as error:
        return await _matrix(admin, 409 if error.errors[0].code is ErrorCode.IN_USE else 400, input_errors(error))
    return RedirectResponse("/admin/roles", status_code=303)
