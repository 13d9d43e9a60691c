"""``/graphql`` over WebSocket: subscriptions in the graphql-transport-ws protocol.

The protocol GraphiQL and ``graphql-ws`` clients speak (github.com/enisdenjo/graphql-ws,
PROTOCOL.md). kehu answers it itself, as it answers HTTP itself (server/graphql_http.py):
each operation gets a context of its own, errors are masked the same way, and only
subscriptions run here (queries and mutations go over HTTP).

Who may listen, one rule: the socket stays open while its bearer token (sent in
``connection_init``'s payload as ``{"Authorization": "Bearer <token>"}``) is valid, its user
active and holding ``complaint.read``. That is checked at ``connection_init``, at every
``subscribe``, at every change and at least every minute while nothing changes
(schema/subscriptions.py); when it fails the socket is closed with 4403 Forbidden.
A handshake whose ``Origin`` is another site's is refused before it is accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from contextlib import aclosing
from typing import Any, NoReturn
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.types.execution import PreExecutionError

from models import db
from models.scope import Scope
from models.tokens import viewer_for_token
from schema.masking import mask
from schema.subscriptions import LiveContext
from server.graphql_http import Operation, RequestError, _formatted, _operation
from server.settings import Settings

__all__ = ["PROTOCOL", "GraphQLWebSocketEndpoint"]

log = logging.getLogger("kehu.ws")

PROTOCOL = "graphql-transport-ws"
REQUIRED = "complaint.read"
"""Every subscription kehu has is about complaints."""
INIT_TIMEOUT = 10.0
"""Seconds a client has, once connected, to send ``connection_init``."""
MAX_OPERATIONS = 20
"""Subscriptions running at once on one socket."""
_MAX_ID = 100


def _same_site(websocket: WebSocket, settings: Settings) -> bool:
    """No ``Origin`` (not a browser), or the origin this server is reached at: a page of another
    site must not open a socket with the visitor's network position (cross-site WebSocket hijacking)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    allowed = {websocket.headers.get("host", "").lower()}
    if settings.public_url:
        allowed.add(urlsplit(settings.public_url).netloc.lower())
    return parts.netloc.lower() in allowed


def _bearer(payload: dict[str, Any]) -> str | None:
    """The token of ``{"Authorization": "Bearer <token>"}``, the key in any case."""
    for key, value in payload.items():
        if isinstance(key, str) and key.lower() == "authorization" and isinstance(value, str):
            kind, _, secret = value.partition(" ")
            return secret.strip() if kind.lower() == "bearer" else None
    return None


class _Closed(Exception):
    """The socket was closed while handling a message."""


class GraphQLWebSocketEndpoint:
    """The ASGI app at ``/graphql`` for WebSocket handshakes."""

    def __init__(self, schema, settings: Settings):
        self.schema = schema
        self.settings = settings

    async def __call__(self, scope, receive, send) -> None:
        websocket = WebSocket(scope, receive, send)
        if not _same_site(websocket, self.settings):
            log.info("refused a WebSocket handshake from origin %r", websocket.headers.get("origin", "")[:200])
            await websocket.close(code=1008)  # before accept: the handshake is answered 403
            return
        await _Connection(self.schema, self.settings, websocket).serve()


class _Connection:
    def __init__(self, schema, settings: Settings, websocket: WebSocket):
        self.schema = schema
        self.settings = settings
        self.websocket = websocket
        self.request_id = uuid.uuid4().hex
        self.client_ip = websocket.client.host if websocket.client else None
        self.base_url = settings.public_url or str(websocket.base_url).replace("ws", "http", 1)
        self.secret: str | None = None
        self.initialised = False
        self.acknowledged = False
        self.closed = False
        self.operations: dict[str, asyncio.Task] = {}

    async def serve(self) -> None:
        offered = self.websocket.scope.get("subprotocols") or []
        if PROTOCOL not in offered:
            await self.websocket.accept()
            await self.close(4406, "Subprotocol not acceptable")
            return
        await self.websocket.accept(subprotocol=PROTOCOL)
        timer = asyncio.create_task(self._init_timeout())
        try:
            while not self.closed:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                try:
                    await self._handle(message.get("text"))
                except _Closed:
                    pass
        finally:
            self.closed = True
            timer.cancel()
            tasks = list(self.operations.values())
            self.operations.clear()
            for task in tasks:
                task.cancel()
            for task in [timer, *tasks]:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await task

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self.websocket.application_state is not WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):  # the client may be gone already
                await self.websocket.close(code=code, reason=reason)

    async def _refuse(self, code: int, reason: str) -> NoReturn:
        await self.close(code, reason)
        raise _Closed

    async def _send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            await self.websocket.send_text(json.dumps(message))
        except (OSError, RuntimeError, WebSocketDisconnect):  # the client went away
            self.closed = True

    async def _init_timeout(self) -> None:
        await asyncio.sleep(INIT_TIMEOUT)
        if not self.initialised:
            await self.close(4408, "Connection initialisation timeout")

    async def _handle(self, text: str | None) -> None:
        if text is None:
            await self._refuse(4400, "Messages are JSON text.")
        if len(text) > self.settings.max_body_bytes:
            await self._refuse(1009, f"A message is at most {self.settings.max_body_bytes} bytes.")
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self._refuse(4400, "Invalid message received")
        kind = message["type"]
        if kind == "connection_init":
            await self._connection_init(message.get("payload"))
        elif kind == "ping":
            await self._send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "complete":
            if isinstance(message.get("id"), str) and (task := self.operations.pop(message["id"], None)):
                task.cancel()
        else:
            await self._refuse(4400, f"Unknown message type: {kind[:50]}")

    async def _connection_init(self, payload: Any) -> None:
        if self.initialised:
            await self._refuse(4429, "Too many initialisation requests")
        self.initialised = True
        if payload is not None and not isinstance(payload, dict):
            await self._refuse(4400, "Invalid connection init payload")
        self.secret = _bearer(payload or {})
        try:
            scope = await self._authenticate()
        except Exception as error:
            if not db.unavailable(error):
                raise
            await self._unavailable(error)
            raise _Closed from None
        if scope is None:
            await self._refuse(4403, "Forbidden")
        self.acknowledged = True
        await self._send({"type": "connection_ack"})

    async def _authenticate(self) -> Scope | None:
        """The caller's scope now, or None when their token is not (or no longer) good for subscribing."""
        viewer = await viewer_for_token(self.secret) if self.secret else None
        if viewer is None or not viewer.can(REQUIRED):
            return None
        return await Scope.for_viewer(viewer, self.client_ip)

    async def _renew(self) -> Scope | None:
        try:
            scope = await self._authenticate()
        except Exception as error:
            if not db.unavailable(error):
                raise
            await self._unavailable(error)
            return None
        if scope is None:
            log.info("closed a subscription socket whose token is no longer valid (socket %s)", self.request_id)
            await self.close(4403, "Forbidden")
        return scope

    async def _unavailable(self, error: BaseException) -> None:
        """The database is away: close with 1013 (try again later), and the client reconnects."""
        log.warning("database unavailable (socket %s): %s", self.request_id, error.__class__.__name__)
        await self.close(1013, "The database is unavailable; retry shortly.")

    async def _subscribe(self, message: dict[str, Any]) -> None:
        if not self.acknowledged:
            await self._refuse(4401, "Unauthorized")
        operation_id = message.get("id")
        if not isinstance(operation_id, str) or not operation_id or len(operation_id) > _MAX_ID:
            await self._refuse(4400, "A subscribe message needs an `id`.")
        if operation_id in self.operations:
            await self._refuse(4409, f"Subscriber for {operation_id[:50]} already exists")
        try:
            operation = _operation(message.get("payload"))
        except RequestError as error:
            await self._refuse(4400, error.message)
        if len(self.operations) >= MAX_OPERATIONS:
            await self._errors(operation_id, [{
                "message": f"At most {MAX_OPERATIONS} subscriptions run at once on one connection.",
                "extensions": {"code": "LIMIT_EXCEEDED"},
            }])
            return
        self.operations[operation_id] = asyncio.create_task(self._run(operation_id, operation))

    async def _errors(self, operation_id: str, errors: list[dict[str, Any]]) -> None:
        await self._send({"id": operation_id, "type": "error", "payload": errors})

    async def _run(self, operation_id: str, operation: Operation) -> None:
        try:
            scope = await self._renew()
            if scope is None:
                return
            context = LiveContext(scope=scope, request_id=self.request_id, base_url=self.base_url, renew=self._renew)
            results = await self.schema.subscribe(
                operation.query, variable_values=operation.variables, context_value=context,
                operation_name=operation.operation_name, operation_extensions=operation.extensions,
            )
            async with aclosing(results):
                first = True
                async for result in results:
                    causes = [error.original_error for error in result.errors or () if error.original_error]
                    if away := next((cause for cause in causes if db.unavailable(cause)), None):
                        await self._unavailable(away)
                        return
                    errors = [_formatted(mask(error, self.request_id)) for error in result.errors or ()]
                    if first and isinstance(result, PreExecutionError):
                        await self._errors(operation_id, errors)  # nothing ran: no `complete` follows
                        return
                    first = False
                    payload: dict[str, Any] = {"data": result.data}
                    if errors:
                        payload["errors"] = errors
                    if result.extensions:
                        payload["extensions"] = result.extensions
                    await self._send({"id": operation_id, "type": "next", "payload": payload})
            await self._send({"id": operation_id, "type": "complete"})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("subscription %s failed (socket %s)", operation_id[:_MAX_ID], self.request_id)
            with contextlib.suppress(Exception):
                await self._send({"id": operation_id, "type": "complete"})
        finally:
            if self.operations.get(operation_id) is asyncio.current_task():
                del self.operations[operation_id]
