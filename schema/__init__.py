"""The GraphQL schema: every domain's queries and mutations, limits and error masking."""

from __future__ import annotations

from functools import partial

import strawberry
from strawberry.extensions import DisableIntrospection, MaxTokensLimiter, ParserCache
from strawberry.schema.config import StrawberryConfig

from schema.access import AccessMutations, AccessQueries
from schema.analytics import AnalyticsQueries
from schema.audit import AuditQueries
from schema.authentication import CheckBearer
from schema.churn import ChurnQueries
from schema.compiler import CompiledReads
from schema.complaints import ComplaintMutations, ComplaintQueries
from schema.customers import CustomerMutations, CustomerQueries
from schema.execution import BreadthFirstExecutionContext
from schema.follow_ups import FollowUpMutations, FollowUpQueries
from schema.graph import GraphMutations
from schema.interactions import InteractionMutations
from schema.limits import QueryLimits
from schema.loyalty import LoyaltyMutations
from schema.nodes import NodeQueries
from schema.orders import OrderMutations
from schema.pool import PoolMutations, PoolQueries
from schema.rules import RulesMutations, RulesQueries
from schema.saved_segments import SavedSegmentMutations, SavedSegmentQueries
from schema.scalars import SCALAR_MAP
from schema.staff import StaffMutations, StaffQueries
from schema.subscriptions import Subscription
from schema.tokens import TokenMutations, TokenQueries

__all__ = ["build_schema"]


@strawberry.type(description="Everything kehu answers: customers and the graph between them, complaints, staff, tokens and the audit log.")
class Query(
    AccessQueries, NodeQueries, CustomerQueries, SavedSegmentQueries, PoolQueries, ComplaintQueries, FollowUpQueries,
    ChurnQueries, RulesQueries, StaffQueries, TokenQueries, AuditQueries, AnalyticsQueries,
):
    pass


@strawberry.type(description="Every change: each takes one `input` and returns a payload with `errors`.")
class Mutation(
    AccessMutations, CustomerMutations, GraphMutations, InteractionMutations, OrderMutations, StaffMutations,
    TokenMutations, ComplaintMutations, FollowUpMutations, SavedSegmentMutations, PoolMutations, RulesMutations,
    LoyaltyMutations,
):
    pass


class _Schema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Errors are logged where they are masked (schema.masking), once."""


def build_schema(
    *,
    max_cost: int = 50_000,
    max_depth: int = 12,
    max_aliases: int = 30,
    max_tokens: int = 5_000,
    introspection: bool = True,
) -> strawberry.Schema:
    extensions = [
        partial(MaxTokensLimiter, max_token_count=max_tokens),
        partial(ParserCache, maxsize=256),
        partial(QueryLimits, max_cost=max_cost, max_depth=max_depth, max_aliases=max_aliases),
        CompiledReads,
        CheckBearer,
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=BreadthFirstExecutionContext,
        config=StrawberryConfig(scalar_map=SCALAR_MAP, disable_field_suggestions=True),
    )
