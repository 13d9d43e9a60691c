"""Placeholder until the offline GraphiQL page lands (helper is writing it)."""

from starlette.responses import HTMLResponse


def graphiql_response(request, *, endpoint="/graphql"):
    return HTMLResponse("<!doctype html><title>kehu GraphiQL</title><div id=graphiql></div>")
