"""Breadth-first execution of queries: a field is resolved for every object of a level at once.

graphql-core completes a result field by field and object by object. A page of 20 customers
with a referrer, 10 referrals and 5 interactions each is some 1,700 field executions, each
with its resolve info, argument coercion, awaitable checks and, for an async field, a task of
its own; that bookkeeping, not kehu's SQL, was most of the page's time. Here the objects of a
level go through each field together: arguments are coerced once per field, the async
resolvers of a level are awaited in one gather (so DataLoaders still batch), and leaves are
serialized by their GraphQL type in one pass.

The same resolvers run, through the same Strawberry wrappers; only the walk is different.
Anything the walk does not take on (mutations, interfaces and unions, @defer and @stream, a
null where the schema says non-null, any error at all) hands the whole operation back to
graphql-core, which then answers exactly as it would have, errors and paths included.
Queries only read, so running their resolvers a second time is safe.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Iterable
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLResolveInfoHelpers,
    Undefined,
    get_named_type,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter, get_arguments
from strawberry.types.field import StrawberryField

from models import db

__all__ = ["BreadthFirstExecutionContext"]

Grouped = dict[str, list[FieldDetails]]


class _HandBack(Exception):
    """The walk met something graphql-core must answer; nothing of the walk is kept."""


class BreadthFirstExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core hands resolvers bound methods of the context: a reference cycle that kept
        # each request's context, loaders and rows alive until a full collection, which then
        # took 5 ms every 40 pages or so. Through a weak reference they die with the request.
        context = weakref.ref(self)
        self.async_helpers = GraphQLResolveInfoHelpers(
            gather=lambda values: context().gather_async_work(values),
            track=lambda values: context().track_async_work(values),
        )

    def execute_collected_root_fields(self, root_type, root_value, grouped_field_set, serially, new_defer_usages):
        middleware = self.middleware_manager.middlewares if self.middleware_manager is not None else ()
        if serially or new_defer_usages or middleware:
            return super().execute_collected_root_fields(
                root_type, root_value, grouped_field_set, serially, new_defer_usages
            )
        return self._walk_or_hand_back(root_type, root_value, grouped_field_set, new_defer_usages)

    async def _walk_or_hand_back(self, root_type, root_value, grouped_field_set, new_defer_usages) -> Any:
        try:
            [data] = await self._level(root_type, [root_value], grouped_field_set)
            return data
        except Exception as error:
            if db.unavailable(error):
                # Nothing is gained by asking a database that is away a second time.
                raise GraphQLError("The database is unavailable.", original_error=error) from None
        result = super().execute_collected_root_fields(
            root_type, root_value, grouped_field_set, False, new_defer_usages
        )
        return await result if self.is_awaitable(result) else result

    async def _level(self, parent_type: GraphQLObjectType, sources: list[Any], grouped: Grouped) -> list[dict[str, Any]]:
        """The selection ``grouped`` of every object in ``sources``, in order."""
        results: list[dict[str, Any]] = [{} for _ in sources]
        fields: list[tuple[str, GraphQLOutputType, list[FieldDetails], list[Any], GraphQLResolveInfo]] = []
        awaiting: list[tuple[list[Any], int, Any]] = []
        is_awaitable = self.is_awaitable
        for key, details in grouped.items():
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                for result in results:
                    result[key] = parent_type.name
                continue
            field_def = parent_type.fields.get(name)
            if field_def is None or field_def.resolve is None:
                raise _HandBack
            info = self.build_resolve_info(
                field_def, [d.node for d in details], parent_type, Path(None, key, parent_type.name)
            )
            args = (
                get_argument_values(
                    field_def, node, self.variable_values, details[0].fragment_variable_values, self.hide_suggestions
                )
                if field_def.args or node.arguments
                else {}
            )
            values, plain = self._resolve(field_def, info, args, sources)
            if not plain:
                awaiting.extend((values, index, value) for index, value in enumerate(values) if is_awaitable(value))
            for result in results:
                result[key] = None  # the key's place in the response, filled below
            fields.append((key, field_def.type, details, values, info))
        if awaiting:
            for (values, index, _), value in zip(
                awaiting, await _all(awaitable for _, _, awaitable in awaiting), strict=True
            ):
                values[index] = value
        # Leaves complete at once; fields with objects below them go on concurrently, so that
        # the loaders of sibling subtrees batch together.
        completed: dict[str, list[Any]] = {}
        below = []
        for key, return_type, details, values, info in fields:
            if is_leaf_type(get_named_type(return_type)):
                completed[key] = _leaves(return_type, values)
            else:
                below.append((key, self._complete(return_type, details, values, info)))
        for (key, _), column in zip(below, await _all(work for _, work in below), strict=True):
            completed[key] = column
        for key, column in completed.items():
            for result, value in zip(results, column, strict=True):
                result[key] = value
        return results

    def _resolve(
        self, field_def: GraphQLField, info: GraphQLResolveInfo, args: dict[str, Any], sources: list[Any]
    ) -> tuple[list[Any], bool]:
        """The field's value (or awaitable) for each source, arguments converted once for all; and
        whether the values are plain attributes, which are never awaitable."""
        definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        strawberry_schema = self.schema._strawberry_schema
        if isinstance(definition, StrawberryField) and not definition.extensions:
            if definition.is_basic_field and definition.default_resolver is getattr:
                return list(map(attrgetter(definition.python_name), sources)), True
            resolver = definition.base_resolver
            if (
                resolver is not None
                and resolver.self_parameter is not None
                and resolver.parent_parameter is None
                and resolver.root_parameter is None
                and not strawberry_schema.exception_handlers
            ):
                _, kwargs = get_arguments(
                    field=definition,
                    source=None,
                    info=strawberry_schema.config.info_class(_raw_info=info, _field=definition),
                    kwargs=args,
                    config=strawberry_schema.config,
                    scalar_registry=strawberry_schema.schema_converter.scalar_registry,
                )
                return [resolver(source, **kwargs) for source in sources], False
        resolve = field_def.resolve
        return [resolve(source, info, **args) for source in sources], False

    async def _complete(
        self, return_type: GraphQLOutputType, details: list[FieldDetails], values: list[Any], info: GraphQLResolveInfo
    ) -> list[Any]:
        """Resolved ``values`` of one field, completed as graphql-core would complete each."""
        if isinstance(return_type, GraphQLNonNull):
            completed = await self._complete(return_type.of_type, details, values, info)
            if any(value is None for value in completed):
                raise _HandBack  # graphql-core reports it, with the path, and nulls the parent
            return completed
        if isinstance(return_type, GraphQLList):
            items: list[Any] = []
            spans: list[tuple[int, int] | None] = []
            for value in values:
                if value is None:
                    spans.append(None)
                    continue
                if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
                    raise _HandBack
                start = len(items)
                items.extend(value)
                spans.append((start, len(items)))
            if any(self.is_awaitable(item) for item in items):
                raise _HandBack
            done = await self._complete(return_type.of_type, details, items, info)
            return [None if span is None else done[span[0] : span[1]] for span in spans]
        if is_leaf_type(return_type):
            return _leaves(return_type, values)
        if isinstance(return_type, GraphQLObjectType):
            present = [value for value in values if value is not None]
            if return_type.is_type_of is not None and not all(
                return_type.is_type_of(value, info) is True for value in present
            ):
                raise _HandBack
            grouped, defer_usages, _ = self.collect_subfields(return_type, details)
            if defer_usages:
                raise _HandBack
            done = iter(await self._level(return_type, present, grouped) if present else ())
            return [None if value is None else next(done) for value in values]
        raise _HandBack  # interfaces and unions: graphql-core resolves the runtime type


async def _all(awaitables: Iterable[Awaitable[Any]]) -> list[Any]:
    """Await them concurrently; a single one is awaited as it is, without a task.

    Every one runs to its end before the first error is raised, so that none is still reading
    while graphql-core answers the operation again.
    """
    awaitables = list(awaitables)
    if len(awaitables) == 1:
        return [await awaitables[0]]
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def _leaves(return_type: GraphQLOutputType, values: list[Any]) -> list[Any]:
    """Values of a scalar or enum type (possibly in lists, possibly non-null), serialized."""
    if isinstance(return_type, GraphQLNonNull):
        completed = _leaves(return_type.of_type, values)
        if any(value is None for value in completed):
            raise _HandBack
        return completed
    if isinstance(return_type, GraphQLList):
        if any(value is not None and (isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__")) for value in values):
            raise _HandBack
        return [None if value is None else _leaves(return_type.of_type, list(value)) for value in values]
    serialize = return_type.serialize
    serialized = [None if value is None else serialize(value) for value in values]
    if any(out is None or out is Undefined for out, value in zip(serialized, values, strict=True) if value is not None):
        raise _HandBack
    return serialized

