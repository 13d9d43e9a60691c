"""Query limits checked before validation and before any resolver: cost, depth, aliases.

One pass over the operation, fragments memoised, so a document of fragments that spread
each other many times costs a walk of its text, not of its expansion (Strawberry's own
depth and alias limiters expand fragments and take exponential time on such documents).

Cost: every field costs 1, and a field returning a page or a list multiplies the cost of
what it selects by its size: ``first``/``last`` (20 when not given), ``nodes(ids:)`` by
the number of ids. Introspection is free and does not count towards depth; its aliases count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.schema.schema import validate_document

from models.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

__all__ = ["QueryLimits"]


@dataclass(frozen=True)
class _Measure:
    cost: int
    depth: int
    aliases: int

    def __add__(self, other: _Measure) -> _Measure:
        return _Measure(self.cost + other.cost, max(self.depth, other.depth), self.aliases + other.aliases)


_ZERO = _Measure(0, 0, 0)
_META_FIELDS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}
_validate = lru_cache(maxsize=256)(validate_document)
# A cap on intermediate numbers, so that a hostile document cannot make us multiply forever.
_CEILING = 10**12


class _TooLarge(Exception):
    pass


class _Walker:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any], defaults: dict[str, Any]):
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.defaults = defaults
        self.memo: dict[str, _Measure] = {}
        self.visiting: set[str] = set()

    def _value(self, node: Any) -> Any:
        if isinstance(node, VariableNode):
            name = node.name.value
            return self.variables.get(name, self.defaults.get(name))
        if isinstance(node, IntValueNode):
            return _int(node.value)
        if isinstance(node, ListValueNode):
            return node.values
        return None

    def _multiplier(self, field: FieldNode, definition: Any) -> int:
        args = {arg.name.value: self._value(arg.value) for arg in field.arguments or ()}
        if "ids" in args and isinstance(args["ids"], (list, tuple)):
            return max(len(args["ids"]), 1)
        sized = [args.get(name) for name in ("first", "last") if name in definition.args]
        if not sized:
            return 1
        given = [_size(value) for value in sized if value is not None]
        if given:
            return max(max(given), 1)
        default = definition.args.get("first")
        if default is not None and isinstance(default.default_value, int):
            return max(default.default_value, 1)
        return DEFAULT_PAGE_SIZE

    def selection_set(self, node: SelectionSetNode | None, parent: Any) -> _Measure:
        total = _ZERO
        if node is None:
            return total
        for selection in node.selections:
            total = total + self._selection(selection, parent)
            if total.cost > _CEILING:
                raise _TooLarge
        return total

    def _selection(self, selection: Any, parent: Any) -> _Measure:
        if isinstance(selection, FieldNode):
            return self._field(selection, parent)
        if isinstance(selection, InlineFragmentNode):
            target = parent
            if selection.type_condition is not None:
                target = self.schema.get_type(selection.type_condition.name.value) or parent
            return self.selection_set(selection.selection_set, target)
        if isinstance(selection, FragmentSpreadNode):
            return self._fragment(selection.name.value)
        return _ZERO

    def _fragment(self, name: str) -> _Measure:
        if name in self.memo:
            return self.memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return _ZERO  # unknown fragments and cycles are validation's to report
        self.visiting.add(name)
        target = self.schema.get_type(fragment.type_condition.name.value)
        measure = self.selection_set(fragment.selection_set, target)
        self.visiting.discard(name)
        self.memo[name] = measure
        return measure

    def _field(self, field: FieldNode, parent: Any) -> _Measure:
        name = field.name.value
        aliases = 1 if field.alias is not None else 0
        if name.startswith("__"):
            # Introspection is free and does not count towards depth, but its aliases do:
            # aliased fragments spreading each other fan out inside __schema as anywhere.
            meta = _META_FIELDS.get(name)
            inner = self.selection_set(field.selection_set, get_named_type(meta.type)) if meta else _ZERO
            return _Measure(0, 0, aliases + inner.aliases)
        definition = None
        if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            definition = parent.fields.get(name)
        if definition is None:
            return _Measure(1, 1, aliases)  # unknown field: validation reports it
        inner = self.selection_set(field.selection_set, get_named_type(definition.type))
        multiplier = self._multiplier(field, definition) if _is_many(definition.type) else 1
        return _Measure(1 + multiplier * inner.cost, 1 + inner.depth, aliases + inner.aliases)


def _is_many(type_: Any) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        return True
    named = get_named_type(type_)
    return named.name.endswith("Connection")


def _operation(document: Any, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


class QueryLimits(SchemaExtension):
    """Refuse an operation over the cost, depth or alias limit, then validate it (cached)."""

    def __init__(self, *, max_cost: int, max_depth: int, max_aliases: int):
        self.max_cost = max_cost
        self.max_depth = max_depth
        self.max_aliases = max_aliases
        self.cost: int | None = None
        self.named = False

    def on_operation(self) -> Iterator[None]:
        # Before parsing, ``operation_name`` is the name the request gave; once the document
        # is parsed Strawberry falls back to the first operation's name.
        self.named = self.execution_context.operation_name is not None
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        error = self._check(context)
        if error is not None:
            context.pre_execution_errors = [error]
        else:
            # Validating a document costs more than running it; clients repeat their documents.
            context.pre_execution_errors = _validate(
                context.schema._schema, context.graphql_document, tuple(context.validation_rules)
            )
        yield

    def _check(self, context: Any) -> GraphQLError | None:
        document = context.graphql_document
        if document is None:
            return None
        if not self.named and sum(isinstance(d, OperationDefinitionNode) for d in document.definitions) > 1:
            # Strawberry would run the first; the GraphQL spec asks for operationName (a 400).
            raise CannotGetOperationTypeError(None)
        operation = _operation(document, context.operation_name)
        if operation is None:
            return None
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        defaults = {
            v.variable.name.value: _literal(v.default_value) for v in operation.variable_definitions or ()
        }
        variables = context.variables if isinstance(context.variables, dict) else {}
        root = {
            OperationType.QUERY: context.schema._schema.query_type,
            OperationType.MUTATION: context.schema._schema.mutation_type,
            OperationType.SUBSCRIPTION: context.schema._schema.subscription_type,
        }[operation.operation]
        walker = _Walker(context.schema._schema, fragments, variables, defaults)
        try:
            measure = walker.selection_set(operation.selection_set, root)
        except _TooLarge:
            return _limit_error(f"The query costs more than {self.max_cost}.", "QUERY_TOO_COSTLY")
        self.cost = measure.cost
        if measure.cost > self.max_cost:
            return _limit_error(
                f"The query costs {measure.cost}, over the limit of {self.max_cost}: ask for smaller pages.",
                "QUERY_TOO_COSTLY",
            )
        if measure.depth > self.max_depth:
            return _limit_error(f"The query is {measure.depth} fields deep, over the limit of {self.max_depth}.", "QUERY_TOO_DEEP")
        if measure.aliases > self.max_aliases:
            return _limit_error(f"The query uses {measure.aliases} aliases, over the limit of {self.max_aliases}.", "TOO_MANY_ALIASES")
        return None

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:
            return {}
        return {"cost": {"requested": self.cost, "limit": self.max_cost}}


def _size(value: Any) -> int:
    """A page size as graphql-core will coerce it (100.0 is 100); anything odd counts as the most."""
    if isinstance(value, bool):
        return MAX_PAGE_SIZE
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**31:
        return int(value)
    return MAX_PAGE_SIZE


def _literal(node: Any) -> Any:
    if isinstance(node, IntValueNode):
        return _int(node.value)
    return None


def _int(text: str) -> int:
    """An Int literal's value; one too long to convert (Python refuses 4,300 digits) is huge."""
    if len(text.lstrip("-")) > 15:
        return -_CEILING if text.startswith("-") else _CEILING
    return int(text)


def _limit_error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})
