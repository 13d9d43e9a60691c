"""What every admin page shares: the session, the CSRF check, rendering, and error pages.

A view decorated with ``@page`` runs only for a signed-in, active user whose session is
live; a POST runs only with the session's CSRF token (a form field, or the ``X-CSRF-Token``
header htmx sends). The view gets an ``Admin`` with the caller's ``Scope`` and passes it to
the domain, which checks every permission: a refusal there becomes a 403 page here, an
unknown id a 404, bad input the form again with the message.

Each request is answered in its language (``language_of``): ``localized`` makes it current for
the whole view, so the messages the view words with ``_()`` and the page it renders agree.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from models import db
from models.access import Viewer
from models.errors import DomainError, ErrorCode, FieldError
from models.scope import Scope
from models.sessions import csrf_token, viewer_for_session
from models.staff import users_by_ids
from models.validation import MAX_ID
from server import assets, i18n
from server.i18n import gettext as _
from server.templates import templates

__all__ = [
    "SESSION_COOKIE", "Admin", "cookie_name", "form_id", "form_ids", "input_errors", "language_of", "localized", "page",
    "parse_id", "path_id", "render", "render_error", "security_headers",
]

SESSION_COOKIE = "kehu_admin"
_HTMX = "htmx"
_SSE = "htmx-sse"
_ECHARTS = "echarts"
_STATUS = {ErrorCode.FORBIDDEN: 403, ErrorCode.NOT_FOUND: 404}


def cookie_name(request: Request, name: str) -> str:
    """``__Host-`` prefixed over HTTPS: the browser then insists on Secure, path / and no Domain."""
    return f"__Host-{name}" if request.url.scheme == "https" else name


def _policy(cdn_scripts: tuple[str, ...]) -> str:
    script = " ".join(("'self'", *cdn_scripts))
    return "; ".join([
        "default-src 'none'", f"script-src {script}", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
        "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'",
    ])


@dataclass
class Admin:
    """A signed-in request: the caller's scope, their CSRF token, the parsed form."""

    request: Request
    scope: Scope
    csrf: str
    me: dict[str, Any]
    form: FormData | None = None

    @property
    def viewer(self) -> Viewer:
        return self.scope.viewer  # type: ignore[return-value]

    def can(self, code: str) -> bool:
        return self.scope.can(code)

    @property
    def graphiql(self) -> bool:
        """Whether this server serves GraphiQL: what "Explore the API" opens."""
        return self.request.app.state.settings.graphiql


def language_of(request: Request, admin: Admin | None = None) -> str:
    """The language to answer ``request`` in: the signed-in staff member's own choice, else the browser's."""
    return i18n.negotiate(request.headers.get("accept-language"), admin.me.get("language") if admin else None)


def localized(endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """``endpoint`` run in the language of its request."""
    @functools.wraps(endpoint)
    async def run(request: Request) -> Response:
        with i18n.activated(language_of(request)):
            return await endpoint(request)

    return run


def render(
    request: Request, template: str, context: dict[str, Any], status: int = 200, admin: Admin | None = None
) -> HTMLResponse:
    scripts = {name: assets.tag(name) for name in (_HTMX, _SSE, _ECHARTS)}
    with i18n.activated(language_of(request, admin)):  # also for a view that is not ``localized``
        html = templates.get_template(f"admin/{template}").render(
            request=request, admin=admin, htmx=scripts[_HTMX], sse=scripts[_SSE], echarts=scripts[_ECHARTS],
            csrf=admin.csrf if admin else None, language_names=i18n.NAMES, **context
        )
    return HTMLResponse(html, status_code=status, headers=security_headers(tuple(t.url for t in scripts.values() if t.cdn)))


def security_headers(cdn_scripts: tuple[str, ...] = ()) -> dict[str, str]:
    """The headers of every server-rendered page: its CSP (scripts from this server, and those
    ``cdn_scripts`` where the local copy is missing), no caching, no framing."""
    return {
        "content-security-policy": _policy(cdn_scripts),
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "same-origin",
    }


def render_error(request: Request, status: int, message: str, admin: Admin | None = None) -> HTMLResponse:
    titles = {400: _("That did not work"), 403: _("Not allowed"), 404: _("Not found")}
    return render(request, "error.html", {"title": titles.get(status, _("Error")), "message": message}, status, admin)


def path_id(request: Request, name: str = "id") -> int:
    value = request.path_params[name]
    if not 0 < value <= MAX_ID:
        raise DomainError.single(name, _("no such record."), ErrorCode.NOT_FOUND)
    return value


def parse_id(raw: str, field_name: str) -> int | None:
    """An id chosen in a form; empty is none."""
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise DomainError.single(field_name, _("%(field)s is not a valid choice.") % {"field": field_name}, ErrorCode.INVALID)
    return int(raw)


def form_id(form: FormData, name: str, field_name: str) -> int | None:
    return parse_id(form.get(name) or "", field_name)


def form_ids(form: FormData, name: str, field_name: str) -> list[int]:
    return [i for i in (parse_id(raw, field_name) for raw in form.getlist(name)) if i is not None]


def input_errors(error: DomainError) -> list[FieldError]:
    """The errors a form shows next to its fields; a refusal or a missing record is a page of its own."""
    if error.errors[0].code in _STATUS:
        raise error
    return error.errors


def page(view: Callable[[Admin], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    @localized
    async def endpoint(request: Request) -> Response:
        async with db.one_connection():  # one pool connection for the whole page
            return await _signed_in(request)

    async def _signed_in(request: Request) -> Response:
        settings = request.app.state.settings
        secret = request.cookies.get(cookie_name(request, SESSION_COOKIE), "")
        viewer = await viewer_for_session(secret, timedelta(minutes=settings.admin_idle_minutes)) if secret else None
        if viewer is None:
            if request.headers.get("hx-request"):
                return Response(status_code=401, headers={"hx-redirect": "/admin/login"})
            target = request.url.path if request.method == "GET" else "/admin"
            return RedirectResponse(f"/admin/login?next={target}", status_code=303)
        client_ip = request.client.host if request.client else None
        scope = await Scope.for_viewer(viewer, client_ip)
        me = (await users_by_ids(scope, [viewer.user_id]))[viewer.user_id]
        admin = Admin(request, scope, csrf_token(secret), me)
        if request.method == "POST":
            admin.form = await request.form(max_files=0, max_fields=200)
            sent = request.headers.get("x-csrf-token") or admin.form.get("csrf_token") or ""
            if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), admin.csrf.encode()):
                return render_error(
                    request, 403, _("The form's security token is missing or stale. Reload the page and try again."), admin
                )
        with i18n.activated(language_of(request, admin)):
            try:
                return await view(admin)
            except DomainError as error:
                status = _STATUS.get(error.errors[0].code, 400)
                return render_error(request, status, str(error), admin)

    return endpoint
