"""What every mutation shares: input to domain data, domain errors to payload errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry

from models.errors import DomainError
from schema.errors import user_errors

__all__ = ["input_dict", "payload"]

P = TypeVar("P")


def input_dict(value: Any, exclude: set[str] = frozenset()) -> dict[str, Any]:
    """The fields a client gave (UNSET ones left out), by their Python (snake_case) names."""
    return {
        f.name: getattr(value, f.name)
        for f in dataclasses.fields(value)
        if f.name not in exclude and getattr(value, f.name) is not strawberry.UNSET
    }


async def payload(cls: type[P], run: Callable[[], Awaitable[dict[str, Any]]]) -> P:
    """Run a mutation's body; an expected failure becomes the payload's ``errors``."""
    fields = {f.name for f in dataclasses.fields(cls)} - {"errors"}
    try:
        result = await run()
    except DomainError as error:
        return cls(**dict.fromkeys(fields), errors=user_errors(error))
    return cls(**{name: result.get(name) for name in fields}, errors=[])
