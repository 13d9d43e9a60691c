"""Sign-in throttling, before any password is hashed.

A password check costs 64 MiB and tens of milliseconds, so guessing must be refused before
it reaches the hasher: at most ``PER_CLIENT`` attempts a minute from one address, and at most
``MAX_WAITING`` checks queued at once in this worker (a flood from many addresses is refused
at once instead of stalling everybody's sign-in). Per-account lockout (access.py) is the
durable, cross-worker limit; this one is per worker and in memory, which is enough for its
job: keeping the worker responsive.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from models.errors import DomainError, ErrorCode

__all__ = ["MAX_WAITING", "PER_CLIENT", "SignInThrottle", "sign_ins"]

PER_CLIENT = 10
WINDOW = 60.0
MAX_WAITING = 16
_MAX_CLIENTS = 10_000


class SignInThrottle:
    def __init__(
        self, per_client: int = PER_CLIENT, window: float = WINDOW, max_waiting: int = MAX_WAITING,
        refusal: str = "too many sign-in attempts; wait a minute and try again.",
    ) -> None:
        self.refusal = refusal
        self.per_client = per_client
        self.window = window
        self.max_waiting = max_waiting
        self.waiting = 0
        self._attempts: OrderedDict[str, deque[float]] = OrderedDict()

    def _admit(self, client: str, now: float) -> bool:
        attempts = self._attempts.pop(client, None) or deque()
        while attempts and attempts[0] <= now - self.window:
            attempts.popleft()
        admitted = len(attempts) < self.per_client
        if admitted:
            attempts.append(now)
        self._attempts[client] = attempts  # most recently seen last
        while len(self._attempts) > _MAX_CLIENTS:
            self._attempts.popitem(last=False)
        return admitted

    def reset(self) -> None:
        self._attempts.clear()

    @asynccontextmanager
    async def attempt(self, client_ip: str | None) -> AsyncIterator[None]:
        """Hold a place for one sign-in from ``client_ip``, or refuse with RATE_LIMITED.

        In-process callers (no address) are limited only by the queue.
        """
        limited = client_ip is not None and not self._admit(client_ip, time.monotonic())
        if limited or self.waiting >= self.max_waiting:
            raise DomainError.single(None, self.refusal, ErrorCode.RATE_LIMITED)
        self.waiting += 1
        try:
            yield
        finally:
            self.waiting -= 1


sign_ins = SignInThrottle()
