"""Breadth-first execution answers exactly as graphql-core does, and hands back what it does not take on."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from models.customers import create_customer
from models.scope import Scope
from schema import build_schema
from schema.context import Context
from schema.ids import to_global_id
from tests.test_batching import build_graph

CUSTOMER_FIELDS = """
  __typename id name phone email birthday gender company source customFields notes createdAt updatedAt
  referredAt tags
  referrer { id name referrer { id __typename } }
  referrals(first: 2) { totalCount edges { cursor node { id name } } pageInfo { endCursor hasNextPage } }
  interactions(first: 3) { edges { node { id kind direction summary occurredAt } } }
  orders(first: 2) { edges { node { amount currency status } } }
  referralStats { directCount downstreamCount maxDepth downstreamRevenue { amount currency } }
  referralTree(depth: 2, first: 5) { level customer { id } }
  orderCount lifetimeValue { amount currency } lastOrderAt
  links { edges { node { kind customer { id } } } }
"""

WALKED = {
    "every customer field": (
        "{ customers(first: 7) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
        f" edges {{ cursor node {{ {CUSTOMER_FIELDS} }} }} }} }}",
        {},
    ),
    "fragments, aliases and directives": (
        """query($with: Boolean!, $skip: Boolean!, $n: Int) {
          a: customers(first: 2) { ...Page }
          b: customers(first: $n, orderBy: {field: NAME}) { edges { node {
            ... on Customer { id n: name } name @include(if: $with) referrer @skip(if: $skip) { id }
            x: referrals(first: 1) { edges { node { id } } } y: referrals(first: 3) { totalCount edges { node { name } } }
          } } }
          __typename
        }
        fragment Page on CustomerConnection { edges { node { id ...Named } } }
        fragment Named on Customer { name __typename referrer { id ... on Customer { name } } }""",
        {"with": True, "skip": False, "n": 4},
    ),
    "directives the other way": (
        "query($with: Boolean!, $skip: Boolean!) { customers(first: 3) { edges { node {"
        " id name @include(if: $with) referrer @skip(if: $skip) { id } } } } }",
        {"with": False, "skip": True},
    ),
    "one customer and the staff lists": (
        "query($id: ID!) { customer(id: $id) { id name referralStats { downstreamCount } }"
        " teams { totalCount } roles { totalCount } permissionCodes { code description } }",
        {"id": to_global_id("Customer", 1)},
    ),
}

HANDED_BACK = {
    "an interface": ("query($id: ID!) { node(id: $id) { id ... on Customer { name } } }", {"id": to_global_id("Customer", 1)}),
    "an error deep in the page": (
        '{ customers(first: 2) { edges { node { id referrals(first: 2, after: "junk") { totalCount } } } } }',
        {},
    ),
}


@pytest.fixture
async def scope(clean_db) -> Scope:
    await build_graph(9)
    await create_customer(Scope.of_system(), {"name": "Nobody's", "phone": "+8613812345678", "email": "n@example.com"})
    return Scope.of_system()


async def _run(query: str, variables: dict[str, Any], scope: Scope, *, graphql_core: bool) -> tuple[Any, list]:
    schema = build_schema()
    if graphql_core:
        schema.execution_context_class = StrawberryGraphQLCoreExecutionContext
    result = await schema.execute(query, variable_values=variables, context_value=Context(scope=scope, request_id="t"))
    return result.data, [error.formatted for error in result.errors or ()]


@pytest.fixture
def graphql_core_calls(monkeypatch) -> list[str]:
    """Each time an operation is handed back to graphql-core's own walk."""
    calls: list[str] = []
    original = StrawberryGraphQLCoreExecutionContext.execute_collected_root_fields

    def counted(self, *args, **kwargs):
        calls.append(self.operation.operation.value)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_collected_root_fields", counted)
    return calls


@pytest.mark.parametrize("case", WALKED)
async def test_the_breadth_first_walk_answers_as_graphql_core(case, scope, graphql_core_calls):
    query, variables = WALKED[case]
    walked = await _run(query, variables, scope, graphql_core=False)
    assert graphql_core_calls == [], "the walk handed the operation back"
    expected = await _run(query, variables, scope, graphql_core=True)
    assert walked == expected
    assert walked[1] == [] and walked[0]


@pytest.mark.parametrize("case", HANDED_BACK)
async def test_what_the_walk_does_not_take_on_is_answered_by_graphql_core(case, scope, graphql_core_calls):
    query, variables = HANDED_BACK[case]
    walked = await _run(query, variables, scope, graphql_core=False)
    assert graphql_core_calls == ["query"]
    assert walked == await _run(query, variables, scope, graphql_core=True)


async def test_mutations_run_field_by_field_in_order(scope, graphql_core_calls):
    data, errors = await _run(
        'mutation { a: createCustomer(input: {name: "A"}) { customer { name } } b: createCustomer(input: {name: "B"}) { customer { name } } }',
        {},
        scope,
        graphql_core=False,
    )
    assert errors == [] and [data["a"]["customer"]["name"], data["b"]["customer"]["name"]] == ["A", "B"]
    assert graphql_core_calls == ["mutation"]


async def test_a_page_of_customers_batches_each_relation_into_one_statement(scope, count_statements):
    count_statements.statements.clear()
    data, errors = await _run(
        "{ customers(first: 10) { edges { node { referrer { name } referrals(first: 3) { edges { node { name } } }"
        " interactions(first: 2) { edges { node { summary } } } } } } }",
        {},
        scope,
        graphql_core=False,
    )
    assert errors == [] and len(data["customers"]["edges"]) == 10
    # the page, the referrers, the referrals, the interactions
    assert len(count_statements.statements) == 4, count_statements.statements
    nodes = [edge["node"] for edge in data["customers"]["edges"]]
    assert any(node["referrer"] for node in nodes) and any(node["referrals"]["edges"] for node in nodes)
    assert sorted(len(node["interactions"]["edges"]) for node in nodes) == [0] + [2] * 9  # "Nobody's" has none



async def test_what_a_query_made_dies_with_it_not_in_a_reference_cycle(scope):
    """Cycles wait for the collector's full pass, which stalls every request in flight."""
    schema = build_schema()
    query, variables = WALKED["every customer field"]

    async def run() -> None:
        result = await schema.execute(query, variable_values=variables, context_value=Context(scope=scope, request_id="t"))
        assert result.errors is None and len(result.data["customers"]["edges"]) == 7

    await run()  # caches warmed
    gc.collect()
    gc.disable()
    try:
        await run()
        left = gc.collect()
    finally:
        gc.enable()
    assert left == 0
