"""Idempotency keys: a retried write returns its first result and writes nothing again.

Mobile clients retry on flaky networks. A write that carries a key runs in one transaction
with the key's row, so the two commit together: a replay finds the row and gets the stored
result back; the same key with different input, or for another operation, is refused
(IDEMPOTENCY_KEY_REUSED). A replay that races the first attempt waits on the key's unique
index and then sees its result. Keys are per user and kept for ``KEEP``; an older one is
treated as absent, swept or not. A write that failed stores nothing, so its retry runs afresh.

A replay is a read: it asks for the operation's permission again, and what it answers is
what the write stored, ids and plain values, never rows; the caller reads the objects again
through its scope, as they are now (schema/mutations.py).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import refusals
from models.errors import DomainError, ErrorCode
from models.refusals import Telling
from models.scope import Scope
from models.validation import clean_text

__all__ = ["KEEP", "IdempotencyKey", "once", "sweep"]

KEEP = timedelta(hours=48)
_SWEEP_ODDS = 200  # one write in this many also clears expired keys


class IdempotencyKey(Model):
    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="idempotency_keys", on_delete=fields.CASCADE)
    key = fields.CharField(max_length=100)
    operation = fields.CharField(max_length=50)
    fingerprint = fields.CharField(max_length=64)
    result = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "idempotency_key"
        unique_together = (("user", "key"),)


def _canonical(value: Any) -> Any:
    """Input as JSON that tells its types apart, for the fingerprint: "1" and 1 are other inputs."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):  # and datetime
        return {f"${type(value).__name__}": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, dict):
        return {"$dict": [[k, _canonical(v)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def _fingerprint(operation: str, data: Any) -> str:
    canonical = json.dumps([operation, _canonical(data)], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def once(
    scope: Scope,
    key: str | None,
    operation: str,
    data: Any,
    run: Callable[[], Awaitable[dict[str, Any]]],
    check: Callable[[Scope], None],
) -> dict[str, Any]:
    """``run()`` at most once per (caller, ``key``): ``operation`` names the write, ``data`` is the
    input the key stands for, ``check`` its permission; ``run`` returns plain values to keep."""
    if key is None or scope.viewer is None:
        return await run()
    check(scope)  # a replay asks again: the caller may have lost the right since
    key = clean_text(key, "idempotencyKey", max_length=100, required=True)
    fingerprint = _fingerprint(operation, data)
    try:
        return await _once(scope, key, operation, fingerprint, run)
    finally:
        if random.randrange(_SWEEP_ODDS) == 0:
            await sweep()


async def _once(
    scope: Scope, key: str, operation: str, fingerprint: str, run: Callable[[], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    user_id = scope.viewer.user_id
    # A telling refusal keeps its record (refusals.py), not the key: its retry runs afresh.
    async with refusals.transaction(scope, lock=False) as connection:
        await IdempotencyKey.filter(
            user_id=user_id, key=key, created_at__lt=datetime.now(UTC) - KEEP
        ).using_db(connection).delete()
        try:
            async with in_transaction():  # a savepoint: a taken key must not end the transaction
                claim = await IdempotencyKey.create(
                    user_id=user_id, key=key, operation=operation, fingerprint=fingerprint, using_db=connection
                )
        except IntegrityError:
            # Taken: by an attempt that committed (a concurrent one is waited for by the index).
            first = await IdempotencyKey.get(user_id=user_id, key=key).using_db(connection)
            if first.operation != operation or first.fingerprint != fingerprint:
                raise DomainError.single(
                    "idempotencyKey", "this key was used for a different request; use a new key.",
                    ErrorCode.IDEMPOTENCY_KEY_REUSED,
                ) from None
            return first.result
        try:
            result = await run()
        except Telling:
            await IdempotencyKey.filter(id=claim.id).using_db(connection).delete()
            raise
        await IdempotencyKey.filter(id=claim.id).using_db(connection).update(result=result)
    return result


async def sweep(now: datetime | None = None) -> int:
    """Forget keys older than ``KEEP``; how many went."""
    return await IdempotencyKey.filter(created_at__lt=(now or datetime.now(UTC)) - KEEP).delete()
