"""A request's bearer token: read in full every few seconds, checked on every request.

Reading a token with its user and their roles is a statement every API request would pay for.
On PostgreSQL, a token read in the last few seconds is taken from memory instead, and still
checked before anything runs for it: a compiled read carries the check in its own statement
(``Bearer.live``), any other operation reads the token afresh first (``Bearer.check``). A revoked
or expired token, a deactivated user, a changed team or role is therefore seen by the very next
request, in every worker; the request is then answered as if nothing had been remembered.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

from models.access import secret_hash
from models.db import dialect
from models.sql import Query
from models.tokens import RIGHTS_STAMP, read_token
from models.viewer import Viewer

__all__ = ["REMEMBERED_FOR", "Bearer", "StaleBearer", "bearer"]

REMEMBERED_FOR = 5.0
"""Seconds a token read in full is remembered: its user's rights are read again after this."""
_MAX_REMEMBERED = 10_000

_remembered: OrderedDict[str, tuple[float, Viewer, str]] = OrderedDict()
"""Token hash → (when it is forgotten, its viewer, its rights stamp); least recently read first."""


class StaleBearer(Exception):
    """The remembered token no longer stands for what it did: the request is answered afresh."""


@dataclass
class Bearer:
    """The token a request carries: who it stands for, and whether this request has read it live."""

    secret: str = field(repr=False)
    viewer: Viewer
    stamp: str | None
    checked: bool

    def live(self, q: Query) -> str:
        """SQL, true while the token is live and its user's rights are those remembered."""
        return (
            f"EXISTS (SELECT 1 FROM api_token t JOIN staff_user u ON u.id = t.user_id WHERE t.id = {q.param(self.viewer.token_id)}"
            " AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.is_active"
            f" AND {RIGHTS_STAMP} = {q.param(self.stamp)})"
        )

    def confirmed(self, live: bool) -> None:
        """What ``live`` answered in a statement of this request: the request starts afresh unless it held."""
        if not live:
            _remembered.pop(secret_hash(self.secret), None)
            raise StaleBearer
        self.checked = True

    async def check(self) -> None:
        """Read the token afresh before anything runs for it, unless this request has; stale if it changed."""
        if not self.checked:
            found = await bearer(self.secret, fresh=True)
            self.confirmed(found is not None and found.viewer == self.viewer)


async def bearer(secret: str, fresh: bool = False) -> Bearer | None:
    """The bearer ``secret`` stands for, remembered unless ``fresh`` (or on SQLite); None when it is
    unknown, revoked or expired."""
    remembering = dialect() == "postgres"
    key = secret_hash(secret)
    if remembering and not fresh and (found := _remembered.get(key)) is not None:
        forget_at, viewer, stamp = found
        if forget_at > time.monotonic():
            _remembered.move_to_end(key)
            return Bearer(secret, viewer, stamp, checked=False)
    read = await read_token(secret, stamped=remembering)
    if read is None:
        _remembered.pop(key, None)
        return None
    viewer, stamp = read
    if remembering:
        _remembered[key] = (time.monotonic() + REMEMBERED_FOR, viewer, stamp)
        _remembered.move_to_end(key)
        while len(_remembered) > _MAX_REMEMBERED:
            _remembered.popitem(last=False)
    return Bearer(secret, viewer, stamp, checked=True)
