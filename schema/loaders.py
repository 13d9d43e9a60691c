"""Per-request DataLoaders: every relation of a page is fetched in one statement.

A loader's key is ``(parent id, *arguments)``; keys asked with the same arguments (the
usual case: the same field on every customer of a page) share one statement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from functools import cached_property, partial
from typing import Any

from strawberry.dataloader import DataLoader

from models import (
    audit,
    complaints,
    customers,
    follow_ups,
    graph,
    interactions,
    loyalty,
    orders,
    pool,
    recommendations,
    saved_segments,
    segments,
    service_levels,
    staff,
    surveys,
    timeline,
    tokens,
)
from models.scope import Scope

__all__ = ["Loaders"]

Fetch = Callable[..., Awaitable[dict[int, Any]]]


def _grouped(fetch: Fetch, missing: Callable[[tuple], Any]) -> DataLoader:
    """A loader over ``fetch(ids, *args)``; ``missing(args)`` answers for ids it did not return."""

    async def load(keys: Sequence[tuple]) -> list[Any]:
        groups: dict[tuple, list[int]] = {}
        for key in keys:
            groups.setdefault(key[1:], []).append(key[0])
        found: dict[Hashable, Any] = {}
        for args, ids in groups.items():
            rows = await fetch(ids, *args)
            for parent_id in ids:
                found[(parent_id, *args)] = rows[parent_id] if parent_id in rows else missing(args)
        return [found[key] for key in keys]

    return DataLoader(load_fn=load)


def _never(args: tuple) -> Any:
    raise LookupError(f"a page loader returned no page for {args}")


class Loaders:
    """Created per request, so nothing cached outlives the request that fetched it."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._clocks: dict[bool, service_levels.SlaClock] = {}

    def _scoped(self, fetch: Fetch) -> Fetch:
        return partial(fetch, self.scope)

    def _by_id(self, fetch: Fetch) -> DataLoader:
        scope = self.scope  # not self: the loaders would hold themselves in a cycle

        async def load(ids: Sequence[int]) -> list[dict[str, Any] | None]:
            rows = await fetch(scope, ids)
            return [rows.get(i) for i in ids]

        return DataLoader(load_fn=load)

    @cached_property
    def customer(self) -> DataLoader:
        """Customers by ``(id, columns)``, the columns a selection of them reads: one statement
        reads, for all the keys of a batch, every column any of them names."""
        scope = self.scope

        async def load(keys: Sequence[tuple[int, tuple[str, ...]]]) -> list[dict[str, Any] | None]:
            columns = customers.columns_of(column for _, wanted in keys for column in wanted)
            rows = await customers.customers_by_ids(scope, [pk for pk, _ in keys], columns)
            return [rows.get(pk) for pk, _ in keys]

        return DataLoader(load_fn=load)

    @cached_property
    def interaction(self) -> DataLoader:
        return self._by_id(interactions.interactions_by_ids)

    @cached_property
    def order(self) -> DataLoader:
        return self._by_id(orders.orders_by_ids)

    @cached_property
    def link(self) -> DataLoader:
        return self._by_id(graph.links_by_ids)

    @cached_property
    def tags(self) -> DataLoader:
        return _grouped(self._scoped(customers.tags_by_customer), lambda _: [])

    @cached_property
    def referrals(self) -> DataLoader:
        return _grouped(self._scoped(graph.referrals_pages), _never)

    @cached_property
    def referral_count(self) -> DataLoader:
        return _grouped(self._scoped(graph.referral_counts), lambda _: 0)

    @cached_property
    def referral_tree(self) -> DataLoader:
        return _grouped(self._scoped(graph.referral_trees), lambda _: [])

    @cached_property
    def referral_stats(self) -> DataLoader:
        return _grouped(self._scoped(graph.referral_stats), lambda _: graph.ReferralStats())

    @cached_property
    def links(self) -> DataLoader:
        return _grouped(self._scoped(graph.links_pages), _never)

    @cached_property
    def link_count(self) -> DataLoader:
        return _grouped(self._scoped(graph.link_counts), lambda _: 0)

    @cached_property
    def interactions(self) -> DataLoader:
        return _grouped(self._scoped(interactions.interactions_pages), _never)

    @cached_property
    def interaction_count(self) -> DataLoader:
        return _grouped(self._scoped(interactions.interaction_counts), lambda _: 0)

    @cached_property
    def orders(self) -> DataLoader:
        return _grouped(self._scoped(orders.orders_pages), _never)

    @cached_property
    def order_count(self) -> DataLoader:
        return _grouped(self._scoped(orders.order_counts), lambda _: 0)

    @cached_property
    def order_summary(self) -> DataLoader:
        return _grouped(self._scoped(orders.order_summaries), lambda _: orders.OrderSummary())

    @cached_property
    def user(self) -> DataLoader:
        return self._by_id(staff.users_by_ids)

    @cached_property
    def audit_actor(self) -> DataLoader:
        """Who acted in audit events: whoever may read the log may see who acted (named, not shown)."""
        return self._by_id(audit.actors)

    @cached_property
    def role(self) -> DataLoader:
        return self._by_id(staff.roles_by_ids)

    @cached_property
    def team(self) -> DataLoader:
        return self._by_id(staff.teams_by_ids)

    @cached_property
    def role_ids(self) -> DataLoader:
        return _grouped(staff.role_ids_by_user, lambda _: [])

    @cached_property
    def role_user_count(self) -> DataLoader:
        return _grouped(staff.role_user_counts, lambda _: 0)

    @cached_property
    def api_token(self) -> DataLoader:
        return self._by_id(tokens.tokens_by_ids)

    @cached_property
    def audit_event(self) -> DataLoader:
        return self._by_id(audit.audit_events_by_ids)

    @cached_property
    def complaint(self) -> DataLoader:
        return self._by_id(complaints.complaints_by_ids)

    @cached_property
    def complaints(self) -> DataLoader:
        return _grouped(self._scoped(complaints.complaints_pages), _never)

    @cached_property
    def complaint_count(self) -> DataLoader:
        return _grouped(self._scoped(complaints.complaint_counts), lambda _: 0)

    @cached_property
    def timeline(self) -> DataLoader:
        return _grouped(self._scoped(timeline.timeline_pages), _never)

    @cached_property
    def timeline_count(self) -> DataLoader:
        return _grouped(self._scoped(timeline.timeline_counts), lambda _: 0)

    @cached_property
    def survey_answer(self) -> DataLoader:
        return self._by_id(surveys.survey_answers)

    @cached_property
    def colleague(self) -> DataLoader:
        """Staff named on complaints (assignees, actors): id and name, for readers of complaints."""
        return self._by_id(complaints.colleagues)

    async def clock(self, working_time: bool) -> service_levels.SlaClock:
        """The clock complaints count in, the calendar read once a request."""
        if working_time not in self._clocks:
            self._clocks[working_time] = await service_levels.clock_for(working_time)
        return self._clocks[working_time]

    @cached_property
    def follow_up(self) -> DataLoader:
        return self._by_id(follow_ups.follow_ups_by_ids)

    @cached_property
    def follow_ups(self) -> DataLoader:
        return _grouped(self._scoped(follow_ups.follow_ups_pages), _never)

    @cached_property
    def follow_up_count(self) -> DataLoader:
        return _grouped(self._scoped(follow_ups.follow_up_counts), lambda _: 0)

    @cached_property
    def segment(self) -> DataLoader:
        return self._by_id(segments.segments_by_customer)

    @cached_property
    def pool_events(self) -> DataLoader:
        return _grouped(self._scoped(pool.pool_events), lambda _: [])

    @cached_property
    def saved_segment(self) -> DataLoader:
        return self._by_id(saved_segments.saved_segments_by_ids)

    @cached_property
    def loyalty(self) -> DataLoader:
        return self._by_id(loyalty.loyalty)

    @cached_property
    def level_changes(self) -> DataLoader:
        return self._by_id(loyalty.level_changes)

    @cached_property
    def points_entry(self) -> DataLoader:
        return self._by_id(loyalty.points_entries_by_ids)

    @cached_property
    def points_ledger(self) -> DataLoader:
        return _grouped(self._scoped(loyalty.points_pages), _never)

    @cached_property
    def points_count(self) -> DataLoader:
        return _grouped(self._scoped(loyalty.points_counts), lambda _: 0)

    @cached_property
    def order_lines(self) -> DataLoader:
        return self._by_id(orders.order_lines)

    @cached_property
    def recommendations(self) -> DataLoader:
        return _grouped(self._scoped(recommendations.recommendations), lambda _: [])
