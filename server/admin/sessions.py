"""Signing in and out of the admin, and its home page.

The sign-in form is guarded against login CSRF by a double-submitted token: a random value
in a short-lived cookie that the form must repeat, which another site can neither read nor
set. The session cookie is HttpOnly, SameSite=Lax, and Secure with the ``__Host-`` prefix
over HTTPS.
"""

from __future__ import annotations

import hmac
import posixpath
import secrets
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from models import staff
from models.errors import DomainError
from models.sessions import end_session, start_session
from server.admin.complaints import complaint_work
from server.admin.dashboard import dashboard_context
from server.admin.pages import SESSION_COOKIE, Admin, cookie_name, localized, page, render
from server.i18n import gettext as _

__all__ = ["home", "login", "logout", "set_language"]

_LOGIN_COOKIE = "kehu_login"


def _failed() -> str:
    return _("The email or password is wrong, or the account is locked.")


def _next(value: str | None) -> str:
    """Only a path inside the admin, its dot segments resolved: never an open redirect."""
    if not value or "\\" in value or not value.isprintable():
        return "/admin"
    path, mark, query = value.partition("?")
    normal = posixpath.normpath(path)  # keeps a leading "//", which the test below refuses
    if normal != "/admin" and not normal.startswith("/admin/"):
        return "/admin"
    return normal + ("/" if path.endswith("/") and normal != "/" else "") + mark + query


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    https = request.url.scheme == "https"
    response.set_cookie(
        cookie_name(request, name), value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=https
    )


def _form(request: Request, message: str | None = None, status: int = 200, email: str = "") -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", {
        "login_token": token, "message": message, "email": email, "next": _next(request.query_params.get("next")),
    }, status)
    _set_cookie(request, response, _LOGIN_COOKIE, token, 3600)
    return response


@localized
async def login(request: Request) -> Response:
    if request.method == "GET":
        return _form(request)
    form = await request.form(max_files=0, max_fields=10)
    sent, expected = form.get("login_token") or "", request.cookies.get(cookie_name(request, _LOGIN_COOKIE)) or ""
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return _form(request, _("The sign-in form expired. Please try again."), 403)
    email, password = form.get("email") or "", form.get("password") or ""
    if not isinstance(email, str) or not isinstance(password, str):
        return _form(request, _failed(), 400)
    settings = request.app.state.settings
    try:
        started = await start_session(
            email, password, request.client.host if request.client else None,
            timedelta(hours=settings.admin_session_hours),
        )
    except DomainError as error:  # too many attempts
        return _form(request, str(error).capitalize(), 429, email)
    if started is None:
        return _form(request, _failed(), 400, email)
    secret = started[0]
    response = RedirectResponse(_next(form.get("next") if isinstance(form.get("next"), str) else None), status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, secret, settings.admin_session_hours * 3600)
    response.delete_cookie(cookie_name(request, _LOGIN_COOKIE), path="/")
    return response


@page
async def logout(admin: Admin) -> Response:
    await end_session(admin.scope)
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(cookie_name(admin.request, SESSION_COOKIE), path="/")
    return response


@page
async def home(admin: Admin) -> Response:
    return render(admin.request, "home.html", {**await complaint_work(admin), **await dashboard_context(admin)}, admin=admin)


@page
async def set_language(admin: Admin) -> Response:
    """The staff member's own admin language (empty: follow the browser); back to the page they were on."""
    await staff.set_my_language(admin.scope, admin.form.get("language") or None)
    return RedirectResponse(_next(admin.form.get("next")), status_code=303)
