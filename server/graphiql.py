"""The GraphiQL page that ``GET /graphql`` returns to a browser.

Its scripts and stylesheet come from ``static/vendor/`` (see ``server.assets``); a file that
is missing there comes from the CDN instead, pinned by integrity, and the policy then names
the CDN too. No inline script or style: ``static/graphiql.js`` mounts the editor.
"""

from __future__ import annotations

import logging
import secrets

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from server import assets
from server.templates import templates

__all__ = ["graphiql_response"]

log = logging.getLogger("kehu.graphiql")

_STYLES = ("graphiql.css",)
_SCRIPTS = ("react", "react-dom", "graphiql.js")  # in load order: GraphiQL needs React first
_warned = False


def _policy(cdn: bool, style_nonce: str) -> str:
    source = f"'self' {assets.CDN}" if cdn else "'self'"
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {source}",
            # GraphiQL's dialogs lock scrolling with a <style> they insert; graphiql.js hands
            # them this nonce, so no 'unsafe-inline' is needed.
            f"style-src {source} 'nonce-{style_nonce}'",
            "font-src data:",  # GraphiQL's stylesheet inlines its fonts
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _warn_once(missing: list[str]) -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning(
            "GraphiQL: no local copy of %s in static/vendor/, loading from %s instead; "
            "run `python -m server.assets` (or `make assets`) to serve them offline",
            ", ".join(missing),
            assets.CDN,
        )


def graphiql_response(request: Request, *, endpoint: str = "/graphql") -> Response:
    """The GraphiQL page for ``endpoint``, with its own Content-Security-Policy."""
    root_path = request.scope.get("root_path", "")
    styles = [assets.tag(name, root_path) for name in _STYLES]
    scripts = [assets.tag(name, root_path) for name in _SCRIPTS]
    missing = [name for name, tag in zip(_STYLES + _SCRIPTS, styles + scripts, strict=True) if tag.cdn]
    if missing:
        _warn_once(missing)
    style_nonce = secrets.token_urlsafe(16)
    html = templates.get_template("graphiql.html").render(
        styles=styles,
        scripts=scripts,
        init_url=f"{root_path}/static/graphiql.js",
        style_nonce=style_nonce,
        endpoint=root_path + endpoint if endpoint.startswith("/") else endpoint,
    )
    return HTMLResponse(
        html,
        headers={
            "content-security-policy": _policy(bool(missing), style_nonce),
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "cache-control": "no-cache",
        },
    )
