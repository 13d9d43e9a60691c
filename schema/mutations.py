"""What every mutation shares: input to domain data, domain rows to payloads, idempotency keys.

A mutation's body returns domain values (rows); ``payload`` turns each into the type its
payload field declares (through that type's ``from_row``). A write that carries an
``idempotencyKey`` keeps, with the key, the ids of those objects and the plain values
(models/idempotency.py). A replay is a read: it asks for the operation's permission again
and reads each object anew through its loader (``Node.load``), under the caller's scope as it
is now, so an object the caller can no longer see comes back null.
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
from schema.ids import from_global_id
from schema.relay import Node

__all__ = ["Idempotent", "change", "input_dict", "payload"]

P = TypeVar("P")


@strawberry.input(description="A write that a client may safely retry.")
class Idempotent:
    idempotency_key: str | None = strawberry.field(
        default=None,
        description=(
            "A key of the client's choosing, at most 100 characters, new for each write. A retry with the same key "
            "returns the first result and writes nothing: the same objects as they are now, as you may see them now "
            "(null where no longer visible), after the same permission check. The same key with other input or "
            "another mutation is IDEMPOTENCY_KEY_REUSED. Keys are kept 48 hours; an older one is a new key."
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
def _nodes(cls: type) -> dict[str, type[Node]]:
    """For each payload field whose type is an object read from a row: that type."""
    nodes = {}
    for field in cls.__strawberry_definition__.fields:
        kind = field.type
        if isinstance(kind, StrawberryOptional):
            kind = kind.of_type
        if isinstance(kind, LazyType):
            kind = kind.resolve_type()
        if isinstance(kind, type) and issubclass(kind, Node):
            nodes[field.python_name] = kind
    return nodes


async def payload(
    cls: type[P],
    run: Callable[[], Awaitable[dict[str, Any]]],
    info: Info | None = None,
    input: Any = None,
    operation: Callable[..., Awaitable[Any]] | None = None,
) -> P:
    """Run a mutation's body (at most once per idempotency key); an expected failure becomes ``errors``.

    ``operation`` is the domain operation the body calls: a replay checks its permission again.
    """
    fields = {f.name for f in dataclasses.fields(cls)} - {"errors"}
    nodes = _nodes(cls)
    key = getattr(input, "idempotency_key", None)
    rows: dict[str, Any] = {}

    async def first() -> dict[str, Any]:
        rows.update(await run())
        return {name: value["id"] if name in nodes and value is not None else value for name, value in rows.items()}

    try:
        if key is None:
            kept = await first()
        else:
            kept = await once(info.context.scope, key, info.field_name, input_dict(input), first, operation.check)
    except DomainError as error:
        return cls(**dict.fromkeys(fields), errors=user_errors(error))
    values = {}
    for name in fields:
        value = kept.get(name)
        if name in nodes and value is not None:
            value = nodes[name].from_row(rows[name]) if rows else await nodes[name].load(info, value)
        values[name] = value
    return cls(**values, errors=[])


async def change(
    cls: type[P],
    info: Info,
    input: Any,
    operation: Callable[..., Awaitable[dict[str, Any]]],
    arguments: Callable[[], tuple] = tuple,
) -> P:
    """A change to the object ``input.id`` names, of the type of the payload's one object field:
    ``operation(scope, pk, *arguments())``, its result that field (``arguments`` is called inside,
    so that a bad argument is an error of the payload)."""
    (field, node), = _nodes(cls).items()

    async def run() -> dict[str, Any]:
        pk = from_global_id(input.id, "id", node.__name__)[1]
        return {field: await operation(info.context.scope, pk, *arguments())}

    return await payload(cls, run, info, input, operation)

