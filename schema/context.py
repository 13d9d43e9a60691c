"""What every resolver can reach: who asks (their scope), the request and the loaders."""

from __future__ import annotations

from dataclasses import dataclass, field

import strawberry

from models.bearer import Bearer
from models.scope import Scope
from schema.loaders import Loaders

__all__ = ["Context", "Info"]


@dataclass
class Context:
    scope: Scope
    request_id: str
    loaders: Loaders = field(init=False)
    base_url: str = "/"
    """Where this server is reached, ending in /: links it hands out (a survey's) start with it."""
    language: str = "zh_CN"
    """The language texts for people are told in (``Accept-Language``; Chinese by default)."""
    bearer: Bearer | None = None
    """The request's token: read in this request, or checked before anything runs for it (models/bearer.py)."""
    compiled: bool = False
    """Whether a query over customers may be answered by one compiled statement (schema/compiler.py)."""
    customer_columns: dict[tuple, tuple[str, ...]] = field(init=False, default_factory=dict)
    """The customer columns each field of the query reads (``schema.customers.columns``)."""

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.scope)


Info = strawberry.Info[Context, None]
