"""``/graphql`` over HTTP, as the GraphQL-over-HTTP specification says.

kehu reads the request itself instead of using Strawberry's view: the body is capped and
checked before it is parsed (a bare number, invalid UTF-8 or JSON nested a thousand deep
is a 400, not a 500), batches are capped, and status codes follow the media type the
client accepts (``application/graphql-response+json``: 400 for a request that cannot run;
``application/json``: 200 with errors, as older clients expect).
"""

from __future__ import annotations

import json
import logging
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from models import db
from models.bearer import Bearer, StaleBearer, bearer
from models.scope import Scope
from schema.context import Context
from schema.masking import mask
from server import i18n
from server.graphiql import graphiql_response
from server.settings import Settings

__all__ = ["GraphQLEndpoint"]

log = logging.getLogger("kehu.http")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestError(Exception):
    """The HTTP request itself is wrong; no operation runs."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, code: str = "BAD_REQUEST"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.code = code


def _unavailable() -> RequestError:
    return RequestError(503, "The database is unavailable; retry shortly.", {"retry-after": "1"}, "UNAVAILABLE")


@dataclass(frozen=True)
class Operation:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


def _media_type(accept: str | None) -> str:
    """The response type: graphql-response+json when the client takes it, else JSON."""
    if not accept:
        return JSON
    candidates = []
    for part in accept.split(","):
        media, *params = (piece.strip().lower() for piece in part.split(";"))
        if media == GRAPHQL_RESPONSE:
            chosen = GRAPHQL_RESPONSE
        elif media in (JSON, "application/*", "*/*"):
            chosen = JSON
        else:
            continue
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if q > 0:
            candidates.append((q, chosen == GRAPHQL_RESPONSE, chosen))
    if not candidates:
        raise RequestError(406, f"This endpoint answers {GRAPHQL_RESPONSE} or {JSON}.")
    return max(candidates)[2]


def _operation(params: Any) -> Operation:
    if not isinstance(params, dict):
        raise RequestError(400, "A GraphQL request is a JSON object with a `query`.")
    query = params.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RequestError(400, "The request has no `query` string.")
    variables = params.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise RequestError(400, "`variables` must be a JSON object.")
    name = params.get("operationName")
    if name is not None and not isinstance(name, str):
        raise RequestError(400, "`operationName` must be a string.")
    extensions = params.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise RequestError(400, "`extensions` must be a JSON object.")
    return Operation(query, variables, name or None, extensions)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def _refused(constant: str) -> Any:
    raise ValueError(constant)


def _loads(text: str | bytes, what: str) -> Any:
    """JSON as RFC 8259 has it: no NaN, no Infinity, no number too large for a float."""
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_refused)
    except RecursionError:
        raise RequestError(400, f"{what} is nested too deeply.") from None
    except ValueError:
        raise RequestError(400, f"{what} is not valid JSON.") from None


def _dumps(body: Any) -> bytes:
    """A response body in UTF-8. orjson is several times faster than json, but refuses what
    JSON input can carry into an answer: integers beyond 64 bits in custom fields, and lone
    surrogates echoed in an error; json writes those (escaped)."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, ensure_ascii=True).encode()


class GraphQLEndpoint:
    """The ASGI app at ``/graphql``."""

    def __init__(self, schema, settings: Settings):
        self.schema = schema
        self.settings = settings

    async def __call__(self, scope, receive, send) -> None:
        request = Request(scope, receive)
        request_id = request.headers.get("x-request-id", "")
        if not _REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex
        try:
            try:
                async with db.one_connection():  # one pool connection for the whole request
                    response = await self._handle(request, request_id)
            except Exception as error:
                if not db.unavailable(error):
                    raise
                log.warning("database unavailable (request %s): %s", request_id, error.__class__.__name__)
                raise _unavailable() from None
        except RequestError as error:
            response = Response(
                json.dumps({"errors": [{"message": error.message, "extensions": {"code": error.code}}]}),
                status_code=error.status,
                media_type=JSON,
                headers=error.headers,
            )
        response.headers["x-request-id"] = request_id
        await response(scope, receive, send)

    async def _handle(self, request: Request, request_id: str) -> Response:
        if request.method == "GET":
            accept = request.headers.get("accept", "")
            if "text/html" in accept and "query" not in request.query_params and self.settings.graphiql:
                return graphiql_response(request)
            media = _media_type(accept)
            operations = [self._from_query_string(request)]
            allowed = {OperationType.QUERY}
            batch = False
        elif request.method == "POST":
            media = _media_type(request.headers.get("accept"))
            body = await self._body(request)
            batch = isinstance(body, list)
            operations = [_operation(item) for item in body] if batch else [_operation(body)]
            allowed = {OperationType.QUERY, OperationType.MUTATION}
        else:
            raise RequestError(405, "Use GET for queries or POST.", {"allow": "GET, POST"})

        base_url = self.settings.public_url or str(request.base_url)
        language = i18n.negotiate(request.headers.get("accept-language"))

        async def answer(fresh: bool) -> list[tuple[int, dict[str, Any]]]:
            scope, token = await _scope(request, fresh)
            try:
                results = [await self._execute(op, allowed, request_id, media, scope, token, base_url, language) for op in operations]
            except RequestError:
                if token is not None:
                    await token.check()  # a refused request still answers 401 first for a token that no longer holds
                raise
            if token is not None:
                await token.check()  # nothing ran (every operation was refused before it could): the 401 still comes first
            return results

        try:
            results = await answer(fresh=False)
        except StaleBearer:  # raised before anything ran for the remembered token
            results = await answer(fresh=True)
        if batch:
            return Response(_dumps([body for _, body in results]), media_type=f"{media}; charset=utf-8")
        status, body = results[0]
        return Response(_dumps(body), status_code=status, media_type=f"{media}; charset=utf-8")

    def _from_query_string(self, request: Request) -> Operation:
        params: dict[str, Any] = dict(request.query_params)
        for key in ("variables", "extensions"):
            if key in params:
                params[key] = _loads(params[key], f"`{key}`") if params[key] else None
        return _operation(params)

    async def _body(self, request: Request) -> Any:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSON:
            raise RequestError(415, "Send the request as application/json.")
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise RequestError(413, f"The request body is larger than {limit} bytes.")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"The request body is larger than {limit} bytes.")
            chunks.append(chunk)
        raw = b"".join(chunks)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError(400, "The request body is not valid UTF-8.") from None
        body = _loads(text, "The request body")
        if isinstance(body, list):
            if not body:
                raise RequestError(400, "A batch holds at least one operation.")
            if len(body) > self.settings.max_batch:
                raise RequestError(413, f"A batch holds at most {self.settings.max_batch} operations.")
        return body

    async def _execute(
        self, operation: Operation, allowed: set[OperationType], request_id: str, media: str, scope: Scope,
        token: Bearer | None, base_url: str, language: str,
    ) -> tuple[int, dict[str, Any]]:
        context = Context(scope=scope, request_id=request_id, base_url=base_url, language=language,
                          compiled=self.settings.compiled_reads, bearer=token)
        try:
            result = await self.schema.execute(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                operation_name=operation.operation_name,
                allowed_operation_types=allowed,
            )
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.SUBSCRIPTION:
                raise RequestError(400, "kehu has no subscriptions over HTTP.") from None
            raise RequestError(405, "Mutations must be sent with POST.", {"allow": "POST"}) from None
        except CannotGetOperationTypeError as error:
            if error.operation_name:
                raise RequestError(400, f"The document has no operation named {error.operation_name[:100]!r}.") from None
            raise RequestError(400, "Name the operation to run with `operationName`.") from None
        except MissingQueryError:
            raise RequestError(400, "The request has no `query` string.") from None
        for error in result.errors or ():
            if isinstance(error.original_error, StaleBearer) or (
                error.original_error is not None and db.unavailable(error.original_error)
            ):
                raise error.original_error
        return self._status(result, media), self._body_of(result, request_id)

    @staticmethod
    def _is_request_error(result: ExecutionResult) -> bool:
        """Nothing ran: a parse, validation, limit or variable error (none has a path)."""
        return result.data is None and bool(result.errors) and all(e.path is None for e in result.errors)

    def _status(self, result: ExecutionResult, media: str) -> int:
        if media == GRAPHQL_RESPONSE and self._is_request_error(result):
            return 400
        return 200

    def _body_of(self, result: ExecutionResult, request_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [_formatted(mask(error, request_id)) for error in result.errors]
        if not self._is_request_error(result):
            body["data"] = result.data
        if result.extensions:
            body["extensions"] = result.extensions
        return body


async def _scope(request: Request, fresh: bool) -> tuple[Scope, Bearer | None]:
    """The caller's scope and token from ``Authorization: Bearer`` (remembered unless ``fresh``);
    anonymous without the header."""
    client_ip = request.client.host if request.client else None
    header = request.headers.get("authorization")
    if header is None:
        return Scope.anonymous(client_ip), None
    kind, _, secret = header.partition(" ")
    token = await bearer(secret.strip(), fresh) if kind.lower() == "bearer" else None
    if token is None:
        raise RequestError(
            401, "The bearer token is unknown, revoked or expired.", {"www-authenticate": "Bearer"}, "UNAUTHENTICATED"
        )
    return await Scope.for_viewer(token.viewer, client_ip), token


def _formatted(error: GraphQLError) -> dict[str, Any]:
    """graphql-core's error with an ``extensions.code`` always present."""
    formatted = error.formatted
    extensions = dict(formatted.get("extensions") or {})
    if "code" not in extensions:
        if error.path is not None:
            extensions["code"] = "INTERNAL_SERVER_ERROR"
        elif error.message.startswith("Syntax Error"):
            extensions["code"] = "GRAPHQL_PARSE_FAILED"
        elif error.message.startswith("Variable "):
            extensions["code"] = "BAD_USER_INPUT"
        else:
            extensions["code"] = "GRAPHQL_VALIDATION_FAILED"
        formatted["extensions"] = extensions
    return formatted
