"""The request's token checked before an operation runs for it (models/bearer.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension

__all__ = ["CheckBearer"]


class CheckBearer(SchemaExtension):
    """Read a remembered token afresh before the executor runs for it. It comes after
    ``CompiledReads``, whose statement checks the token itself where it answers."""

    async def on_execute(self) -> AsyncIterator[None]:
        token = getattr(self.execution_context.context, "bearer", None)
        if token is not None:
            await token.check()
        yield
