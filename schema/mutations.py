"""What every mutation shares: input to domain data, domain rows to payloads, idempotency keys.

A mutation's body returns domain values (rows); ``payload`` turns each into the type its
payload field declares (through that type's ``from_row``). Because the body returns plain
values, a write that carries an ``idempotencyKey`` can be stored with its result and
replayed: the replay gets the same payload and writes nothing (models/idempotency.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, TypeVar

import strawberry
from strawberry.types.base import StrawberryOptional
from strawberry.types.lazy_type import LazyType

from models.errors import DomainError
from models.idempotency import once
from schema.context import Info
from schema.errors import user_errors

__all__ = ["Idempotent", "input_dict", "payload"]

P = TypeVar("P")


@strawberry.input(description="A write that a client may safely retry.")
class Idempotent:
    idempotency_key: str | None = strawberry.field(
        default=None,
        description=(
            "A key of the client's choosing, at most 100 characters, new for each write. A retry with the same key "
            "returns the first result and writes nothing; the same key with other input is IDEMPOTENCY_KEY_REUSED. "
            "Keys are kept 48 hours."
        ),
    )


def input_dict(value: Any, exclude: set[str] = frozenset()) -> dict[str, Any]:
    """The fields a client gave (UNSET ones left out), by their Python (snake_case) names."""
    exclude = exclude | {"idempotency_key"}
    return {
        f.name: getattr(value, f.name)
        for f in dataclasses.fields(value)
        if f.name not in exclude and getattr(value, f.name) is not strawberry.UNSET
    }


@cache
def _presenters(cls: type) -> dict[str, Callable[[dict[str, Any]], Any]]:
    """For each payload field whose type is built from a row: that type's ``from_row``."""
    presenters = {}
    for field in cls.__strawberry_definition__.fields:
        kind = field.type
        if isinstance(kind, StrawberryOptional):
            kind = kind.of_type
        if isinstance(kind, LazyType):
            kind = kind.resolve_type()
        if hasattr(kind, "from_row"):
            presenters[field.python_name] = kind.from_row
    return presenters


async def payload(
    cls: type[P], run: Callable[[], Awaitable[dict[str, Any]]], info: Info | None = None, input: Any = None
) -> P:
    """Run a mutation's body (at most once per idempotency key); an expected failure becomes ``errors``."""
    fields = {f.name for f in dataclasses.fields(cls)} - {"errors"}
    key = getattr(input, "idempotency_key", None)
    try:
        if key is None:
            result = await run()
        else:
            result = await once(info.context.scope, key, cls.__name__, input_dict(input), run)
    except DomainError as error:
        return cls(**dict.fromkeys(fields), errors=user_errors(error))
    presenters = _presenters(cls)
    values = {
        name: presenters[name](result[name]) if name in presenters and result.get(name) is not None else result.get(name)
        for name in fields
    }
    return cls(**values, errors=[])
