"""API tokens in the admin: one's own and, with token.manage, those of staff within reach; create
(the secret shown once), revoke; and "Explore the API", a short-lived token of one's own for GraphiQL."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import RedirectResponse, Response

from models import tokens
from models.errors import DomainError, ErrorCode, FieldError
from models.pagination import PageArgs
from server.admin.pages import Admin, input_errors, page, path_id, render
from server.i18n import gettext as _

__all__ = ["create_token", "explore", "list_tokens", "revoke_token"]


async def _page(admin: Admin, status: int = 200, errors: list[FieldError] | None = None, values: dict | None = None) -> Response:
    listed = await tokens.list_api_tokens(admin.scope, None, PageArgs(first=100, after=admin.request.query_params.get("after") or None))
    return render(admin.request, "tokens.html", {"page": listed, "errors": errors or [], "values": values or {}}, status, admin)


@page
async def list_tokens(admin: Admin) -> Response:
    return await _page(admin)


def _expiry(raw: str) -> datetime | None:
    if not raw.strip():
        return None
    try:
        return datetime.fromisoformat(raw.strip()).replace(tzinfo=UTC)
    except ValueError:
        raise DomainError.single("expiresAt", _("%(field)s is not a date and time.") % {"field": "expiresAt"}, ErrorCode.INVALID) from None


@page
async def create_token(admin: Admin) -> Response:
    form = admin.form
    values = {"name": form.get("name", ""), "email": form.get("email", ""), "expires_at": form.get("expires_at", "")}
    try:
        user_id = await tokens.user_id_for_email(admin.scope, values["email"])
        row, secret = await tokens.create_api_token(admin.scope, user_id, values["name"], _expiry(values["expires_at"]))
    except DomainError as error:
        return await _page(admin, 400, input_errors(error), values)
    return render(admin.request, "token_created.html", {"token": row, "secret": secret, "email": values["email"]}, admin=admin)


@page
async def revoke_token(admin: Admin) -> Response:
    await tokens.revoke_api_token(admin.scope, path_id(admin.request))
    return RedirectResponse("/admin/tokens", status_code=303)


@page
async def explore(admin: Admin) -> Response:
    """GraphiQL, signed in as the caller for a working day. The secret travels in the URL's fragment,
    which browsers never send (so no server's log holds it); GraphiQL takes it out of the address
    at once, so the history does not keep it either."""
    if not admin.graphiql:
        raise DomainError.single(None, _("GraphiQL is switched off on this server."), ErrorCode.NOT_FOUND)
    secret = (await tokens.issue_explorer_token(admin.scope))[1]
    return RedirectResponse(f"/graphql#token={secret}", status_code=303)
