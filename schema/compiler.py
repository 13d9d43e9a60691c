"""The read path compiled: a query over customers answered by one SQL statement that builds the JSON.

For a validated query whose every field, argument and fragment it knows, ``compile_query``
writes one PostgreSQL statement whose single value is the response's ``data`` as JSON text,
built by the database (subqueries per relation, keyset pages with their cursors). The text is
concatenated, each value written by the helper for its kind (``_text``, ``_plain``, ``_raw``,
``_boolean``): about twice as fast as ``json_build_object`` and ``json_agg``, which look up how to
write each value's type on every call. It follows the executor's rules, not a copy of them: who is visible comes from
``Scope.customers`` rendered into the statement, masking from the SQL that models/personal.py
keeps beside its Python form, page arguments and cursors from models/pagination.py. Anything it
does not know (a field, an argument, a directive, a fragment on another type, a refusal the
executor would word, SQLite) makes it answer None, and the query goes through the executor
unchanged. tests/test_compiler.py holds the two to the same answers.

Known now: ``customers(first, after, orderBy, filter)``, ``customer(id)``, and ``node``/``nodes`` of customers; a customer's id, scalars, tags,
custom fields, ``referrer``, ``referredAt``, ``orderCount``, ``lifetimeValue`` and ``lastOrderAt``; its ``referrals``, ``interactions``, ``orders`` and ``links`` pages (``first``, ``after``) with
``totalCount``, ``pageInfo`` and cursors.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    VariableNode,
    get_named_type,
    value_from_ast,
)
from graphql.execution.values import get_variable_values
from strawberry.extensions import SchemaExtension

from models.customers import CustomerOrder
from models.db import connection, dialect, generic_plans, unavailable
from models.errors import DomainError
from models.graph import LINK_KEY, REFERRAL_KEY
from models.interactions import KEY as INTERACTION_KEY
from models.orders import KEY as ORDER_KEY
from models.orders import paid
from models.pagination import MAX_PAGE_SIZE, PageArgs, SortKey
from models.personal import mask_email_sql, mask_phone_sql
from models.scope import Scope
from models.sql import Query
from models.validation import in_minor_units_sql
from schema.customers import CustomerFilterInput
from schema.ids import from_global_id, to_global_id_sql

__all__ = ["PLANS", "Compiled", "CompiledReads", "compile_query"]

log = logging.getLogger("kehu.compiler")


@dataclass(frozen=True)
class Compiled:
    sql: str
    params: list[Any]
    generic: bool = True
    """Whether one plan serves the statement for any values: not where a filter's values choose the plan (``db.generic_plans``)."""

    def checked_by(self, live: Callable[[Query], str]) -> Compiled:
        """The statement answering a column ``live`` too (the caller's token still holds), its data only where that is true."""
        q = Query()
        q.params = list(self.params)
        condition = live(q)
        data = self.sql.removeprefix("SELECT ").removesuffix(" AS data")
        # OFFSET 0 keeps the check a subquery of its own: run once, not once per mention.
        return Compiled(f"SELECT g.live, CASE WHEN g.live THEN {data} END AS data FROM (SELECT {condition} AS live OFFSET 0) g",
                        q.params, self.generic)


class _Slot(int):
    """A value of the caller's scope in a statement compiled for every caller of its kind: a
    negative stand-in that no row holds (what is not a parameter matches nothing), each bound
    to the caller's own value when the statement is run (``_Plan.bind``)."""


_USER, _TEAM = _Slot(-1), _Slot(-2)


def _kind(scope: Scope) -> tuple:
    """What of a scope shapes a statement: its breadth, rights and how many teams; not whose they are."""
    viewer = scope.viewer
    return viewer.scope, viewer.permissions, viewer.team_id is None, len(scope.team_ids)


def _stand_in(scope: Scope) -> Scope:
    """``scope`` with stand-ins for the user, their team and the teams reached."""
    viewer = replace(scope.viewer, user_id=_USER, team_id=None if scope.viewer.team_id is None else _TEAM,
                     token_id=None, session_id=None)
    return Scope(viewer, tuple(_Slot(-3 - i) for i in range(len(scope.team_ids))))


@dataclass(frozen=True)
class _Plan:
    """A query compiled for every caller of one scope kind and for every value of the variables
    in ``bound``: those only name a customer or a cursor, read into parameters when bound."""

    sql: str
    params: tuple[Any, ...]
    generic: bool
    readers: tuple[tuple[str, int, Callable[[Any], Any]], ...]
    bound: frozenset[str]

    def bind(self, variables: dict[str, Any], scope: Scope) -> Compiled:
        """The statement for ``scope`` and ``variables``; DomainError where a variable names nothing it could."""
        values = {_USER: scope.viewer.user_id, _TEAM: scope.viewer.team_id,
                  **{-3 - i: team for i, team in enumerate(scope.team_ids)}}
        params = [values[p] if type(p) is _Slot else p for p in self.params]
        for name, index, read in self.readers:
            if name in self.bound:  # the others are as compiled: the plan is kept for their values
                params[index] = read(variables[name])
        return Compiled(self.sql, params, self.generic)


class _Unknown(Exception):
    """Something the compiler does not know: the executor answers."""


def _text(value: str) -> str:
    """Any text as a JSON string (escaped), or null."""
    return f"COALESCE(to_json({value})::text, 'null')"


def _plain(value: str) -> str:
    """Text that needs no escaping (ids, times, cursors, enum names, amounts) as a JSON string, or null."""
    return f"COALESCE('\"' || {value} || '\"', 'null')"


def _raw(value: str) -> str:
    """A value whose text is its JSON (a number, json, or JSON text already written), or null."""
    return f"COALESCE(({value})::text, 'null')"


def _boolean(value: str) -> str:
    return f"CASE WHEN {value} THEN 'true' WHEN NOT {value} THEN 'false' ELSE 'null' END"


def _array(item: str, rows: str, table: str) -> str:
    """The JSON array of ``item`` over ``rows``, a subquery whose ORDER BY is the array's order: an
    aggregate over an ordered subquery takes its rows in that order (and sorts nothing again)."""
    return f"('[' || COALESCE((SELECT string_agg({item}, ',') FROM ({rows}) {table}), '') || ']')"


def _iso(column: str, zulu: bool) -> str:
    """A timestamptz as Python's ``isoformat()`` writes it in UTC (microseconds only when there
    are some): what the DateTime scalar answers (``Z``) and what cursors keep (``+00:00``)."""
    end = '"Z"' if zulu else '"+00:00"'
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN {column} IS NULL THEN NULL WHEN date_trunc('second', {column}) = {column}"
        f" THEN to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS{end}') ELSE to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US{end}') END"
    )


def _cursor(key: SortKey, table: str) -> str:
    """``SortKey.encode`` in SQL: base64url, unpadded, of ``["<column>",<value>,<id>]``."""
    value = f"{table}.{key.name}"
    if key.kind == "datetime":
        text = f"'\"' || {_iso(value, zulu=False)} || '\"'"
    elif key.kind == "text":
        text = f"to_json({value})::text"
    elif key.kind == "int":
        text = f"{value}::text"
    else:
        raise _Unknown(key.kind)
    raw = f"'[\"{key.column}\",' || {text} || ',' || {table}.id || ']'"
    return f"rtrim(translate(encode(convert_to({raw}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"


@dataclass
class _Compiler:
    schema: GraphQLSchema
    scope: Scope
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    q: Query = field(default_factory=Query)
    tables: int = 0
    filtered: bool = False
    readers: list[tuple[str, int, Callable[[Any], Any]]] = field(default_factory=list)
    """The parameters read from a variable: its name, the parameter's index, how it is read."""
    bindable: set[str] = field(default_factory=set)
    """Variables given for an argument that is read into parameters (``_BOUND``)."""
    structural: set[str] = field(default_factory=set)
    """Variables whose values shape the statement."""

    def table(self) -> str:
        self.tables += 1
        return f"t{self.tables}"

    # Selections

    def fields(self, selection_set: SelectionSetNode | None, type_: GraphQLObjectType, abstract: bool = False) -> list[FieldNode]:
        """The fields selected on ``type_``, fragments spread; each response key once. ``abstract``:
        the selection is of an interface (``Node``) whose object is of ``type_``."""
        if selection_set is None:
            raise _Unknown("no selection")
        found: list[FieldNode] = []
        for selection in selection_set.selections:
            if selection.directives:
                raise _Unknown("a directive")
            if isinstance(selection, FieldNode):
                found.append(selection)
                continue
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    raise _Unknown("a missing fragment")
                if fragment.directives:
                    raise _Unknown("a directive")
                condition, inner = fragment.type_condition, fragment.selection_set
            elif isinstance(selection, InlineFragmentNode):
                condition, inner = selection.type_condition, selection.selection_set
            else:
                raise _Unknown("a selection")
            if condition is not None and condition.name.value not in {type_.name, *(i.name for i in type_.interfaces)}:
                if not abstract:
                    raise _Unknown("a fragment on another type")
                continue  # under node(id:), a fragment on another type does not apply to a customer
            found.extend(self.fields(inner, type_, abstract))
        chosen: dict[str, FieldNode] = {}
        for node in found:
            key = (node.alias or node.name).value
            if key not in chosen:
                chosen[key] = node
            elif not (_leaf(node) and _leaf(chosen[key]) and node.name.value == chosen[key].name.value):
                raise _Unknown("a response key selected twice, with selections to merge")
        return list(chosen.values())  # the same leaf asked twice (a fragment's id, a client's __typename) answers once

    def arguments(self, node: FieldNode, parent: GraphQLObjectType) -> dict[str, Any]:
        definition = parent.fields[node.name.value]
        given = {argument.name.value: argument.value for argument in node.arguments or ()}
        for name, value in given.items():
            if name in _BOUND and isinstance(value, VariableNode):
                self.bindable.add(value.name.value)
            else:
                self.structural.update(_variables_in(value))
        values = {}
        for name, argument in definition.args.items():
            # A variable the request leaves out leaves its argument out: the default applies, as in the executor.
            value = value_from_ast(given[name], argument.type, self.variables) if name in given else Undefined
            if value is Undefined:
                value = argument.default_value
            if value is not Undefined and value is not None:
                values[name] = value
        return values

    def page_args(self, arguments: dict[str, Any], allowed: set[str]) -> PageArgs:
        if set(arguments) - allowed - {"first", "after"} or arguments.get("last") is not None or arguments.get("before") is not None:
            raise _Unknown("an argument")
        try:
            return PageArgs(first=arguments.get("first"), after=arguments.get("after")).checked()
        except DomainError:
            raise _Unknown("bad page arguments: the executor words the error") from None

    @staticmethod
    def json_object(pairs: list[tuple[str, str]]) -> str:
        """The JSON object of ``(key, JSON text)`` pairs; keys are GraphQL names, which need no escaping."""
        return "('{" + " || ',".join(f'"{key}":\' || {value}' for key, value in pairs) + " || '}')"

    def select(
        self, node: FieldNode, type_: GraphQLObjectType, readers: dict[str, Callable[[FieldNode], str]],
        abstract: bool = False, taking: frozenset[str] = frozenset(),
    ) -> str:
        """The JSON object of ``node``'s selection on ``type_``, each field's SQL from its reader (a field
        without one, or with arguments outside ``taking``, is not known)."""
        pairs = []
        for child in self.fields(node.selection_set, type_, abstract):
            name = child.name.value
            if child.arguments and name not in taking:
                raise _Unknown("an argument")
            if name == "__typename":
                value = f"'\"{type_.name}\"'"
            elif name in readers:
                value = readers[name](child)
            else:
                raise _Unknown(f"{type_.name}.{name}")
            pairs.append(((child.alias or child.name).value, value))
        return self.json_object(pairs)

    # Customers

    def customer(self, node: FieldNode, type_: GraphQLObjectType, table: str, abstract: bool = False) -> str:
        """The JSON of the customer in ``table`` (a row of its columns) for ``node``'s selection."""
        personal = self.scope.can("customer.pii")

        def text(name: str) -> Callable[[FieldNode], str]:
            return lambda child: _text(f"{table}.{name}")

        paid_orders = f"FROM orders o WHERE o.customer_id = {table}.id AND {paid('o')}"  # as order_summaries reads them
        readers: dict[str, Callable[[FieldNode], str]] = {
            "id": lambda child: _plain(to_global_id_sql("Customer", f"{table}.id")),
            "name": text("name"), "company": text("company"), "notes": text("notes"),
            "customFields": lambda child: _raw(f"{table}.custom_fields"),
            "phone": lambda child: _text(f"{table}.phone" if personal else mask_phone_sql(f"{table}.phone")),
            "email": lambda child: _text(f"{table}.email" if personal else mask_email_sql(f"{table}.email")),
            "birthday": lambda child: _plain(f"to_char({table}.birthday, 'YYYY-MM-DD')") if personal else "'null'",
            "gender": lambda child: _plain(f"upper({table}.gender)"), "source": lambda child: _plain(f"upper({table}.source)"),
            "createdAt": lambda child: _plain(_iso(f"{table}.created_at", zulu=True)),
            "updatedAt": lambda child: _plain(_iso(f"{table}.updated_at", zulu=True)),
            "tags": lambda child: _array(_text("g.tag"), f"SELECT tag FROM customer_tag WHERE customer_id = {table}.id ORDER BY tag", "g"),
            # As the executor: only while the referrer is one the caller sees.
            "referredAt": lambda child: _plain(f"CASE WHEN EXISTS (SELECT 1 FROM customer c WHERE c.id = {table}.referrer_id"
                                               f" AND {self.scope.customers(self.q, 'c')}) THEN {_iso(f'{table}.referred_at', zulu=True)} END"),
            "referrer": lambda child: self.visible_customer(child, type_, f"{table}.referrer_id"),
            "referrals": lambda child: self.referrals(child, type_, table),
            "interactions": lambda child: self.interactions(child, type_, table),
            "orders": lambda child: self.orders(child, type_, table),
            "links": lambda child: self.links(child, type_, table),
            "orderCount": lambda child: f"(SELECT count(*) {paid_orders})::text",
            "lifetimeValue": lambda child: self.lifetime_value(child, type_, table),
            "lastOrderAt": lambda child: _plain(_iso(f"(SELECT max(o.placed_at) {paid_orders})", zulu=True)),
        }
        return self.select(node, type_, readers, abstract, taking=frozenset({"referrals", "interactions", "orders", "links"}))

    async def customers_list(self, node: FieldNode) -> str:
        parent = self.schema.query_type
        arguments = self.arguments(node, parent)
        args = self.page_args(arguments, {"orderBy", "filter"})
        order = _order(arguments.get("orderBy"))
        conditions = [self.scope.customers(self.q, "c")]
        if (given := arguments.get("filter")) is not None:
            # graphql-core hands the input over by its GraphQL names: the input class takes Python's.
            chosen = CustomerFilterInput(**{re.sub(r"([A-Z])", r"_\1", name).lower(): value for name, value in given.items()})
            conditions.extend(await chosen.to_domain().where(self.q, self.scope))  # refused: the executor words it
            self.filtered = True
        source = f"customer c WHERE {' AND '.join(conditions)}"
        return self.connection(node, parent, source, "c", order, args, self.customer, count_source=source)

    def referrals(self, node: FieldNode, parent: GraphQLObjectType, table: str) -> str:
        args = self.page_args(self.arguments(node, parent), set())
        # As referral_counts counts them: the referrer visible, each referral visible.
        source = f"customer c WHERE c.referrer_id = {table}.id AND {self.scope.customers(self.q, 'c')}"
        return self.connection(node, parent, source, "c", REFERRAL_KEY, args, self.customer, count_source=source)

    def interactions(self, node: FieldNode, parent: GraphQLObjectType, table: str) -> str:
        arguments = self.arguments(node, parent)
        if arguments.get("kinds"):
            raise _Unknown("kinds")
        args = self.page_args(arguments, {"kinds"})
        source = f"interaction i WHERE i.customer_id = {table}.id"  # the parent is visible: its row came through the scope
        return self.connection(node, parent, source, "i", INTERACTION_KEY, args, self.leaf(_INTERACTION), count_source=source)

    def orders(self, node: FieldNode, parent: GraphQLObjectType, table: str) -> str:
        args = self.page_args(self.arguments(node, parent), set())
        source = f"orders o WHERE o.customer_id = {table}.id"  # the parent is visible: its row came through the scope
        return self.connection(node, parent, source, "o", ORDER_KEY, args, self.leaf(_ORDER), count_source=source)

    def lifetime_value(self, node: FieldNode, parent: GraphQLObjectType, table: str) -> str:
        """As order_summaries sums it: paid orders per currency, the largest first (then by currency, Z to A)."""
        value = self.leaf(_MONEY)(node, get_named_type(parent.fields["lifetimeValue"].type), "s")
        return _array(value, f"SELECT o.currency, sum(o.amount) AS total FROM orders o WHERE o.customer_id = {table}.id AND {paid('o')}"
                             " GROUP BY o.currency ORDER BY total DESC, o.currency DESC", "s")

    def links(self, node: FieldNode, parent: GraphQLObjectType, table: str) -> str:
        arguments = self.arguments(node, parent)
        args = self.page_args(arguments, {"kinds"})
        kinds = sorted({getattr(kind, "value", kind) for kind in arguments.get("kinds") or ()})
        kind_filter = f" AND k.kind IN {self.q.in_list(kinds)}" if kinds else ""
        # As links_pages reads them: each tie once from this end, its other end visible.
        source = (
            "(SELECT k.*, x.other_id, x.direction FROM (SELECT id AS link_id, to_customer_id AS other_id, 'OUTGOING' AS direction"
            f" FROM customer_link WHERE from_customer_id = {table}.id UNION ALL SELECT id, from_customer_id, 'INCOMING'"
            f" FROM customer_link WHERE to_customer_id = {table}.id) x JOIN customer_link k ON k.id = x.link_id"
            f" JOIN customer c ON c.id = x.other_id WHERE {self.scope.customers(self.q, 'c')}{kind_filter}) l WHERE TRUE"
        )
        return self.connection(node, parent, source, "l", LINK_KEY, args, self.leaf(_LINK), count_source=source)

    def leaf(self, kind: _Leaf) -> Callable[[FieldNode, GraphQLObjectType, str], str]:
        """The builder of an object of ``kind`` from its row in a table."""

        def build(node: FieldNode, type_: GraphQLObjectType, table: str) -> str:
            readers: dict[str, Callable[[FieldNode], str]] = {}
            if kind.node:
                readers["id"] = lambda child: _plain(to_global_id_sql(kind.node, f"{table}.id"))
            for name in kind.plain:
                readers[name] = lambda child, name=name: _text(f"{table}.{_SNAKE.get(name, name)}")
            for name in kind.enums:
                readers[name] = lambda child, name=name: _plain(f"upper({table}.{name})")
            for name in kind.times:
                readers[name] = lambda child, name=name: _plain(_iso(f"{table}.{_SNAKE.get(name, name)}", zulu=True))
            for name, rule in kind.rules.items():
                readers[name] = lambda child, rule=rule: rule(self, child, table)
            return self.select(node, type_, readers)

        return build

    def visible_customer(self, node: FieldNode, type_: GraphQLObjectType, id_column: str, abstract: bool = False) -> str:
        """The customer whose id is ``id_column``, where the caller sees it; null elsewhere."""
        inner = self.table()
        value = self.customer(node, type_, inner, abstract)
        return _raw(
            f"SELECT {value} FROM (SELECT {_columns(value, inner, 'c')} FROM customer c WHERE c.id = {id_column}"
            f" AND {self.scope.customers(self.q, 'c')}) {inner}"
        )

    def connection(
        self, node: FieldNode, parent: GraphQLObjectType, source: str, alias: str, key: SortKey, args: PageArgs,
        item: Callable[[FieldNode, GraphQLObjectType, str], str], count_source: str,
    ) -> str:
        """A keyset page of ``source`` (rows of ``alias``) as the Connection the executor answers."""
        type_ = get_named_type(parent.fields[node.name.value].type)
        first = len(self.q.params)
        keyset = args.keyset_condition(key, self.q, alias)
        if keyset and (name := self.variable(node, "after")):
            self.readers.extend((name, first + i, lambda cursor, i=i: key.decode(cursor, "after")[i]) for i in (0, 1))

        def rows(limit: int, columns: str) -> str:
            return (f"SELECT {columns} FROM {source}{f' AND {keyset}' if keyset else ''}"
                    f" ORDER BY {args.order_by(key, alias)} LIMIT {limit}")

        return self.select(node, type_, {
            "totalCount": lambda child: f"(SELECT count(*) FROM {count_source})::text",
            "edges": lambda child: self.edges(child, type_, rows, alias, key, args, item),
            "pageInfo": lambda child: self.page_info(child, type_, rows, alias, key, args),
        })

    def edges(self, node: FieldNode, connection: GraphQLObjectType, rows, alias: str, key: SortKey, args: PageArgs, item) -> str:
        type_ = get_named_type(connection.fields["edges"].type)
        page = self.table()
        value = self.select(node, type_, {
            "cursor": lambda child: _plain(_cursor(key, page)),
            "node": lambda child: item(child, get_named_type(type_.fields["node"].type), page),
        })
        return _array(value, rows(args.size, _columns(value, page, alias, key.name)), page)

    def page_info(self, node: FieldNode, connection: GraphQLObjectType, rows, alias: str, key: SortKey, args: PageArgs) -> str:
        type_ = get_named_type(connection.fields["pageInfo"].type)
        edge = self.table()

        def cursor(last: bool) -> str:
            order = _order_of(key, args, edge, reverse=last)
            columns = _columns("", edge, alias, key.name)
            return _plain(f"(SELECT {_cursor(key, edge)} FROM ({rows(args.size, columns)}) {edge} ORDER BY {order} LIMIT 1)")

        return self.select(node, type_, {
            "hasNextPage": lambda child: _boolean(f"(SELECT count(*) > {args.size} FROM ({rows(args.size + 1, f'{alias}.id')}) {edge})"),
            "hasPreviousPage": lambda child: "'true'" if args.after is not None else "'false'",
            "startCursor": lambda child: cursor(last=False),
            "endCursor": lambda child: cursor(last=True),
        })

    async def customer_by_id(self, node: FieldNode) -> str:
        arguments = self.arguments(node, self.schema.query_type)
        return self.one_customer(node, arguments.get("id"), abstract=False, variable=self.variable(node, "id"))

    async def node_by_id(self, node: FieldNode) -> str:
        arguments = self.arguments(node, self.schema.query_type)
        return self.one_customer(node, arguments.get("id"), abstract=True, variable=self.variable(node, "id"))

    async def nodes_by_ids(self, node: FieldNode) -> str:
        ids = self.arguments(node, self.schema.query_type).get("ids") or []
        if not ids or len(ids) > MAX_PAGE_SIZE:
            raise _Unknown("no ids, or too many: the executor answers")
        return "('[' || " + " || ',' || ".join(self.one_customer(node, global_id, abstract=True) for global_id in ids) + " || ']')"

    def one_customer(self, node: FieldNode, global_id: Any, abstract: bool, variable: str | None = None) -> str:
        """The customer a global ID names (given in ``variable``, if it is), or null where it is not visible."""
        try:
            pk = from_global_id(global_id, "id", "Customer")[1]
        except DomainError:
            raise _Unknown("another type, or a bad id: the executor answers") from None
        placeholder = self.q.param(pk)
        if variable:
            self.readers.append((variable, len(self.q.params) - 1, _customer_pk))
        return self.visible_customer(node, self.schema.get_type("Customer"), placeholder, abstract)

    @staticmethod
    def variable(node: FieldNode, argument: str) -> str | None:
        """The variable an argument is given by, if it is given by one."""
        for given in node.arguments or ():
            if given.name.value == argument and isinstance(given.value, VariableNode):
                return given.value.name.value
        return None


def _leaf(node: FieldNode) -> bool:
    return not node.arguments and node.selection_set is None and not node.directives


_BOUND = frozenset({"id", "after"})
"""Arguments a variable may give without shaping the statement: read into parameters when it is bound."""


def _customer_pk(global_id: Any) -> int:
    return from_global_id(global_id, "id", "Customer")[1]


def _variables_in(value: Any) -> set[str]:
    if isinstance(value, VariableNode):
        return {value.name.value}
    if isinstance(value, ListValueNode):
        return set().union(*(_variables_in(item) for item in value.values))
    if isinstance(value, ObjectValueNode):
        return set().union(*(_variables_in(item.value) for item in value.fields))
    return set()


_SNAKE = {
    "createdAt": "created_at", "updatedAt": "updated_at", "occurredAt": "occurred_at", "referredAt": "referred_at",
    "placedAt": "placed_at", "paymentDueAt": "payment_due_at", "paidAt": "paid_at",
}
@dataclass(frozen=True)
class _Leaf:
    """How the fields of a type read from its row: as they are, upper-cased (enums), as times, or by a rule."""

    node: str | None
    plain: frozenset[str] = frozenset()
    enums: frozenset[str] = frozenset()
    times: frozenset[str] = frozenset()
    rules: dict[str, Callable[[_Compiler, FieldNode, str], str]] = field(default_factory=dict)


def _other_customer(column: str) -> Callable[[_Compiler, FieldNode, str], str]:
    def read(compiler: _Compiler, node: FieldNode, table: str) -> str:
        return compiler.visible_customer(node, compiler.schema.get_type("Customer"), f"{table}.{column}")

    return read


_INTERACTION = _Leaf("Interaction", frozenset({"channel", "summary", "outcome"}), frozenset({"kind", "direction"}),
                     frozenset({"occurredAt", "createdAt"}))
_ORDER = _Leaf("Order", frozenset({"currency", "channel"}), frozenset({"status"}),
               frozenset({"placedAt", "paymentDueAt", "paidAt", "createdAt"}),
               {"amount": lambda compiler, node, table: _plain(in_minor_units_sql(f"{table}.amount", f"{table}.currency"))})
# As links_pages reads a tie: from the listed customer's end (``direction``, the other end ``customer``).
_LINK = _Leaf("CustomerLink", frozenset({"note", "direction"}), frozenset({"kind"}), frozenset({"createdAt"}), {
    "customer": _other_customer("other_id"), "from": _other_customer("from_customer_id"), "to": _other_customer("to_customer_id"),
})
_MONEY = _Leaf(None, frozenset({"currency"}), rules={
    "amount": lambda compiler, node, table: _plain(in_minor_units_sql(f"{table}.total", f"{table}.currency")),
})


def _columns(value: str, table: str, alias: str, *also: str) -> str:
    """The columns of ``alias`` a derived ``table`` must carry for ``value``, the SQL built on it
    (always the id): a page of a customer's many columns reads only those its answer names."""
    names = {"id", *also, *re.findall(rf"\b{table}\.([a-z_]+)\b", value)}
    return ", ".join(f"{alias}.{name}" for name in sorted(names))


def _order_of(key: SortKey, args: PageArgs, table: str, reverse: bool = False) -> str:
    """``PageArgs.order_by`` for the rows of a derived ``table`` (or its reverse: the page's last row first)."""
    descending = (key.descending == args.forward) != reverse
    direction = "DESC" if descending else "ASC"
    return f"{table}.{key.name} {direction}, {table}.id {direction}"


def _name(value: Any) -> str | None:
    return getattr(value, "name", value) if value is not None else None


def _order(order_by: Any) -> SortKey:
    """``CustomerOrderByInput`` as the executor reads it (``schema.customers._sort_key``)."""
    if order_by is None:
        return CustomerOrder.CREATED_AT.key()
    given = order_by if isinstance(order_by, dict) else vars(order_by)
    direction = _name(given.get("direction"))
    return CustomerOrder[_name(given["field"])].key(None if direction is None else direction == "DESC")


_ROOTS = {
    "customers": _Compiler.customers_list, "customer": _Compiler.customer_by_id, "node": _Compiler.node_by_id,
    "nodes": _Compiler.nodes_by_ids,
}


async def _plan(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None, scope: Scope,
) -> _Plan | None:
    """The statement that answers ``document``'s query for every caller of ``scope``'s kind, or
    None where the executor must answer. ``document`` has passed validation and the query limits."""
    if scope.viewer is None or not scope.can("customer.read"):
        return None  # the executor words the refusal
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [op for op in operations if operation_name is None or (op.name and op.name.value == operation_name)]
    if len(chosen) != 1 or chosen[0].operation is not OperationType.QUERY or chosen[0].directives:
        return None
    operation = chosen[0]
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):
        return None  # the executor words the variables' errors
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    compiler = _Compiler(schema, _stand_in(scope), fragments, coerced.coerced)
    try:
        pairs = []
        for node in compiler.fields(operation.selection_set, schema.query_type):
            key, name = (node.alias or node.name).value, node.name.value
            if name == "__typename":
                pairs.append((key, f"'\"{schema.query_type.name}\"'"))
            elif name in _ROOTS:
                pairs.append((key, await _ROOTS[name](compiler, node)))
            else:
                return None
    except (_Unknown, DomainError):
        return None
    except Exception:  # a compiler bug must cost speed, never an answer
        log.exception("could not compile a query; the executor answers it")
        return None
    # A variable the request leaves to its default is the document's: it shapes the plan's key.
    bound = frozenset(name for name in compiler.bindable if name in (variables or {})) - compiler.structural
    return _Plan(f"SELECT {compiler.json_object(pairs)} AS data", tuple(compiler.q.params), not compiler.filtered,
                 tuple(compiler.readers), bound)


async def compile_query(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None, scope: Scope,
) -> Compiled | None:
    """The one statement that answers ``document``'s query for ``scope``, or None where the executor must answer."""
    plan = await _plan(schema, document, operation_name, variables, scope)
    return None if plan is None else plan.bind(variables or {}, scope)


class _Plans:
    """Compiled statements kept per document, operation, scope kind and the variables that shape
    them (least recently used dropped past ``size``): a document asked again costs a lookup and a
    bind. A plan with a filter is not kept: its values choose its plan in the database too."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._plans: OrderedDict[tuple, _Plan] = OrderedDict()
        self._bound: OrderedDict[tuple, frozenset[str]] = OrderedDict()

    def clear(self) -> None:
        self._plans.clear()
        self._bound.clear()

    async def compiled(
        self, schema: GraphQLSchema, document: DocumentNode, query: str, operation_name: str | None,
        variables: dict[str, Any] | None, scope: Scope,
    ) -> Compiled | None:
        variables = variables or {}
        if scope.viewer is None:
            return None
        document_key = (query, operation_name, _kind(scope))
        key = self._key(document_key, variables)
        plan = self._plans.get(key) if key is not None else None
        if plan is not None:
            self._plans.move_to_end(key)
        else:
            plan = await _plan(schema, document, operation_name, variables, scope)
            if plan is None:
                return None
            if plan.generic:
                self._remember(self._bound, document_key, plan.bound)
                if (key := self._key(document_key, variables)) is not None:
                    self._remember(self._plans, key, plan)
        try:
            return plan.bind(variables, scope)
        except DomainError:
            return None  # a variable names nothing this query could: the executor words it
        except Exception:  # a compiler bug must cost speed, never an answer
            log.exception("could not bind a compiled query; the executor answers it")
            return None

    def _key(self, document_key: tuple, variables: dict[str, Any]) -> tuple | None:
        """The key of a plan: its document's, and the variables that shape it (for those only read
        into parameters, whether they are given)."""
        bound = self._bound.get(document_key)
        if bound is None or any(not isinstance(variables.get(name), str | None) for name in bound):
            return None  # not an id or a cursor: compiled, and left to the executor to word
        try:
            shape = orjson.dumps({k: (v is not None) if k in bound else v for k, v in variables.items()}, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return None  # a value orjson cannot write (an integer past 64 bits): compiled every time
        return document_key, bound, shape

    def _remember(self, entries: OrderedDict, key: tuple, value: Any) -> None:
        entries[key] = value
        entries.move_to_end(key)
        while len(entries) > self.size:
            entries.popitem(last=False)


PLANS = _Plans()


class CompiledReads(SchemaExtension):
    """Answer a validated query with its compiled statement where there is one (PostgreSQL, a
    request that asks for it: ``Context.compiled``); the executor answers everything else."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        own = context.context
        if getattr(own, "compiled", False) and context.graphql_document is not None and dialect() == "postgres":
            token = own.bearer if own.bearer is not None and not own.bearer.checked else None
            compiled = await PLANS.compiled(
                context.schema._schema, context.graphql_document, context.query, context.operation_name, context.variables,
                own.scope,
            )
            if compiled is not None:
                if token is not None:
                    compiled = compiled.checked_by(token.live)
                try:
                    async with generic_plans() if compiled.generic else nullcontext():
                        rows = await connection().execute_query_dict(compiled.sql, compiled.params)
                except Exception as error:
                    if unavailable(error):
                        raise  # the database is away: answered as UNAVAILABLE, like any read
                    log.exception("a compiled query failed; the executor answers it")
                else:
                    if token is not None:
                        token.confirmed(rows[0]["live"])  # stale: the request starts again with the token read afresh
                    # The database wrote the JSON: spliced into the answer as it is, never parsed.
                    context.result = ExecutionResult(data=orjson.Fragment(rows[0]["data"]), errors=None)
        yield
