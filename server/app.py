"""The Starlette application: ``/graphql``, the admin, health checks, static files."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from models import db
from schema import build_schema
from server import background, secret
from server.access_log import AccessLog
from server.admin import admin_mount
from server.graphql_http import GraphQLEndpoint
from server.graphql_ws import GraphQLWebSocketEndpoint
from server.headers import SecurityHeaders
from server.settings import ROOT, Settings
from server.survey import survey_routes

__all__ = ["create_app"]

log = logging.getLogger("kehu")


async def healthz(request: Request) -> JSONResponse:
    """The process is alive; says nothing about the database."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """The database answers: put this worker in the load balancer."""
    try:
        await db.connection().execute_query("SELECT 1")
    except Exception:  # any failure to answer means "not ready", whatever the driver says
        log.warning("readiness check: the database did not answer")
        return JSONResponse({"status": "unavailable"}, status_code=503, headers={"retry-after": "5"})
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    secret.configure(settings)
    schema = build_schema(
        max_cost=settings.max_query_cost,
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        introspection=settings.introspection,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await db.init(settings.database_url, settings.db_pool_size)
        # The schema, the modules and the pool live as long as the worker: keep them out of the
        # collector's full passes, which otherwise walk them all and stall every request in flight.
        gc.collect()
        gc.freeze()
        try:
            async with background.running(settings):
                yield
        finally:
            await db.close()

    app = Starlette(
        debug=False,
        routes=[
            Route("/graphql", GraphQLEndpoint(schema, settings), methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
            WebSocketRoute("/graphql", GraphQLWebSocketEndpoint(schema, settings)),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *survey_routes(),
            admin_mount(),
            Mount("/static", StaticFiles(directory=ROOT / "static", check_dir=False), name="static"),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLog)
    app.state.settings = settings
    app.state.schema = schema
    return app
