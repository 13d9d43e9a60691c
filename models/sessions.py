"""Admin sessions: a row per signed-in browser, revoked at once by logout, deactivation or a
password change; ended by an idle and an absolute timeout.

The browser holds a random secret in a cookie; the database holds its SHA-256 hash, so a
copy of the database opens no session. The CSRF token is derived from the secret, so it
lives and dies with the session and needs no storage of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from models.access import AdminSession, Viewer, authenticate, secret_hash, viewer_of
from models.audit import record
from models.scope import Scope

__all__ = ["csrf_token", "end_session", "revoke_user_sessions", "start_session", "viewer_for_session"]

_TOUCH_EVERY = timedelta(minutes=1)


async def start_session(
    email: str, password: str, client_ip: str | None, lifetime: timedelta
) -> tuple[str, Viewer] | None:
    """Sign in to the admin: the cookie secret and the viewer, or None (answered alike, see ``authenticate``)."""
    viewer = await authenticate(email, password, client_ip)
    if viewer is None:
        return None
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        session = await AdminSession.create(
            using_db=connection,
            user_id=viewer.user_id,
            key_hash=secret_hash(secret),
            last_seen_at=now,
            expires_at=now + lifetime,
            client_ip=client_ip[:45] if client_ip else None,
        )
        await record(
            Scope(viewer, client_ip=client_ip), "admin_session.start", "admin_session", session.id,
            after={"expires_at": session.expires_at}, connection=connection,
        )
    return secret, Viewer(**{**viewer.__dict__, "session_id": session.id})


async def viewer_for_session(secret: str, idle: timedelta) -> Viewer | None:
    """The viewer a session cookie stands for; None when unknown, revoked, idle too long or expired."""
    if not secret or len(secret) > 100:
        return None
    session = await AdminSession.get_or_none(key_hash=secret_hash(secret), revoked_at=None).select_related("user")
    now = datetime.now(UTC)
    if (
        session is None
        or not session.user.is_active
        or session.expires_at <= now
        or session.last_seen_at + idle <= now
    ):
        return None
    if now - session.last_seen_at > _TOUCH_EVERY:
        await AdminSession.filter(id=session.id).update(last_seen_at=now)
    return await viewer_of(session.user, session_id=session.id)


async def end_session(scope: Scope) -> None:
    """Sign the caller's session out."""
    viewer = scope.viewer
    if viewer is None or viewer.session_id is None:
        return
    async with in_transaction() as connection:
        ended = await AdminSession.filter(id=viewer.session_id, revoked_at=None).using_db(connection).update(
            revoked_at=datetime.now(UTC)
        )
        if ended:
            await record(scope, "admin_session.end", "admin_session", viewer.session_id, connection=connection)


async def revoke_user_sessions(user_id: int, connection) -> int:
    """End every session of a user (deactivated, or their password changed); how many were live."""
    return await AdminSession.filter(user_id=user_id, revoked_at=None).using_db(connection).update(
        revoked_at=datetime.now(UTC)
    )


def csrf_token(secret: str) -> str:
    """The CSRF token of the session whose cookie secret is ``secret``."""
    return hmac.new(secret.encode(), b"kehu admin csrf", hashlib.sha256).hexdigest()
