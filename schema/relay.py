"""Relay: the ``Node`` interface and kehu's keyset connection, written once for every list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import strawberry

from models.errors import DomainError
from models.pagination import MAX_PAGE_SIZE, Page, PageArgs
from schema.errors import bad_input

if TYPE_CHECKING:
    from schema.context import Info

__all__ = ["Connection", "Edge", "Node", "PageInfo", "child_connection", "connection", "page_args", "PAGE_ARGS_DOC"]

T = TypeVar("T")

PAGE_ARGS_DOC = {
    "first": f"Return the first n items after `after`. Default 20, at most {MAX_PAGE_SIZE}.",
    "after": "A cursor from a previous page: start after that item.",
    "last": f"Return the last n items before `before`. At most {MAX_PAGE_SIZE}.",
    "before": "A cursor from a previous page: end before that item.",
}


@strawberry.interface(description="An object with a global ID, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(description="The object's global ID, opaque and stable.")
    loader: ClassVar[str]
    """The request's loader (schema/loaders.py) that reads this type by primary key, under the caller's scope."""

    @classmethod
    async def load(cls, info: Info, pk: int) -> Any:
        """The object as the caller may see it now, or None: how ``node(id:)`` and a replayed
        mutation (schema/mutations.py) read it."""
        row = await getattr(info.context.loaders, cls.loader).load(pk)
        return cls.from_row(row) if row else None


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items come before this page.")
    page: strawberry.Private[Page]

    @strawberry.field(description="The cursor of the page's first item.")
    def start_cursor(self) -> str | None:
        return self.page.cursor(self.page.rows[0]) if self.page.rows else None

    @strawberry.field(description="The cursor of the page's last item.")
    def end_cursor(self) -> str | None:
        return self.page.cursor(self.page.rows[-1]) if self.page.rows else None


@strawberry.type(description="An item in a list with its cursor.")
class Edge(Generic[T]):
    node: T = strawberry.field(description="The item.")
    page: strawberry.Private[Page]
    row: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="Pass as `after` or `before` to page from this item.")
    def cursor(self) -> str:
        # Encoded only when asked for: most pages are read without their cursors.
        return self.page.cursor(self.row)


@strawberry.type(description="A page of a list, keyset-paginated: a deep page costs what the first costs.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, in list order.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items the whole list holds (all pages), counted in SQL.")
    async def total_count(self) -> int:
        return await self.count()


def page_args(first: int | None, after: str | None, last: int | None, before: str | None) -> PageArgs:
    """Check paging arguments before any loader runs; bad ones are BAD_USER_INPUT."""
    try:
        return PageArgs(first=first, after=after, last=last, before=before).checked()
    except DomainError as error:
        raise bad_input(error) from None


async def child_connection(
    pages: Any, counts: Any, parent: int, args: PageArgs, make: Callable[[dict[str, Any]], T]
) -> Connection[T]:
    """A page of a parent's children through the request's loaders (``pages`` by ``(parent, args)``,
    ``counts`` by ``(parent,)``); the count is read only when asked for."""
    page = await pages.load((parent, args))
    return connection(page, make, lambda: counts.load((parent,)))


def connection(
    page: Page, make: Callable[[dict[str, Any]], T], count: Callable[[], Awaitable[int]]
) -> Connection[T]:
    return Connection(
        edges=[Edge(node=make(row), page=page, row=row) for row in page.rows],
        page_info=PageInfo(has_next_page=page.has_next, has_previous_page=page.has_previous, page=page),
        count=count,
    )

