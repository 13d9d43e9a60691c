"""Scope in every statement: each read of customer data applies the caller's scope itself,
whatever its parent was.

The test enumerates every loader of a request and every public coroutine in models/, and asks
each read about a customer the caller cannot see: each answers nothing. The same read about a
customer the caller sees answers something, so nothing passes by answering nothing always. A
new loader or a new function in models/ fails here until it is listed: as a read, with how to
call it, or as something else, with why.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

import pytest

import models
from models import (
    complaints,
    customers,
    follow_ups,
    graph,
    interactions,
    loyalty,
    orders,
    pool,
    segments,
    settings,
    surveys,
)
from models.access import User, viewer_of
from models.audit import AuditEvent, AuditFilter
from models.complaints import ComplaintFilter, ComplaintOrder
from models.customer_filter import CustomerFilter
from models.customers import COLUMNS, Customer, CustomerOrder
from models.graph import LinkKind, ReferralStats
from models.orders import OrderSummary
from models.pagination import Page, PageArgs
from models.scope import Scope
from models.staff import create_role, create_team, create_user
from schema.loaders import Loaders

SYSTEM = Scope.of_system()
PASSWORD = "correct horse battery staple"
ARGS = PageArgs().checked()


@dataclass
class Side:
    """One customer and its data: the interaction, order, link and audit events that concern it."""

    customer: int
    interaction: int
    order: int
    link: int
    events: list[int]
    name: str
    complaint: int
    reference: str
    follow_up: int
    points_entry: int


@dataclass
class World:
    caller: Scope
    visible: Side
    hidden: Side


async def _customer(name: str, team: int, referrer: int | None = None) -> int:
    made = await customers.create_customer(SYSTEM, {"name": name, "tags": ["VIP"]}, referrer)
    await Customer.filter(id=made["id"]).update(team_id=team)
    return made["id"]


async def _side(name: str, team: int, friend: int, referral_name: str, referral_team: int, assignee: int) -> Side:
    """A customer with a referral (in ``referral_team``), an interaction, a paid order and a link to ``friend``."""
    customer = await _customer(name, team)
    referral = await _customer(referral_name, referral_team, referrer=customer)
    lines = [{"sku": "TEA-1", "name": "龙井", "quantity": 1, "unit_price": Decimal("40.00")},
             {"sku": "CUP-1", "name": "茶杯", "quantity": 1, "unit_price": Decimal("48.00")}]
    # The referral bought the same tea and a cup: the customer is offered the cup.
    await orders.record_order(SYSTEM, referral, {"amount": Decimal("88.00"), "currency": "CNY", "status": "paid", "lines": lines})
    interaction = await interactions.log_interaction(
        SYSTEM, customer, {"kind": "call", "direction": "inbound", "summary": f"{name} asked about delivery"}
    )
    order = await orders.record_order(SYSTEM, customer, {"amount": Decimal("40.00"), "currency": "CNY", "status": "paid",
                                                         "lines": lines[:1]})
    link = await graph.link_customers(SYSTEM, customer, friend, LinkKind.FRIEND, None)
    complaint = await complaints.file_complaint(
        SYSTEM, customer, {"subject": f"{name}: broken", "description": "it broke", "channel": "phone", "category": "delivery"}
    )
    for move in ("acknowledged", "in_progress", "resolved", "closed"):
        await complaints.transition_complaint(SYSTEM, complaint["id"], move, "replaced")
    await surveys.submit_survey(SYSTEM, {"csat": 5}, complaint_id=complaint["id"])
    follow_up = await follow_ups.schedule_follow_up(
        SYSTEM, customer, {"due_on": datetime.now(UTC).date(), "purpose": "call back"}, assignee
    )
    await Customer.filter(id=customer).update(owner_id=assignee)
    await pool.release_customer(SYSTEM, customer)  # a move to the pool, on the customer's ownership timeline
    events = await AuditEvent.filter(customer_id=customer).values_list("id", flat=True)
    points_entry = await loyalty.PointsEntry.get(customer_id=customer, order_id=order["id"])
    return Side(customer, interaction["id"], order["id"], link["id"], list(events), name, complaint["id"], complaint["reference"],
                follow_up["id"], points_entry.id)


@pytest.fixture
async def world(clean_db) -> World:
    """A caller of team East (TEAM scope, every customer permission and audit.read); East's
    张伟 and West's 王芳, each with a referral and a friend in East, data of every kind."""
    east = (await create_team(SYSTEM, "East"))["id"]
    west = (await create_team(SYSTEM, "West"))["id"]
    role = await create_role(SYSTEM, "East desk", ["customer.read", "customer.pii", "audit.read", "complaint.read"], "TEAM")
    user = await create_user(SYSTEM, "east@example.com", "East", PASSWORD, east, [role["id"]])
    caller = await Scope.for_viewer(await viewer_of(await User.get(id=user["id"])))
    friend = await _customer("李娜", east)
    visible = await _side("张伟", east, friend, "刘洋", east, user["id"])
    # West's customer referred someone in East, and is linked to East's 李娜: both visible, the referrer not.
    hidden = await _side("王芳", west, friend, "陈静", east, user["id"])
    await segments.recompute()
    await settings.change(SYSTEM, {loyalty.Rules: {"silver_points": 30}})
    await loyalty.sweep()  # both become SILVER members: a level change each
    return World(caller, visible, hidden)


Read = Callable[[Callable[..., Awaitable[Any]], Scope, Side], Awaitable[Any]]

# Each read about customers, and how to ask it about one side's customer.
READS: dict[str, Read] = {
    "customers.customers_by_ids": lambda f, s, x: f(s, [x.customer]),
    "customers.tags_by_customer": lambda f, s, x: f(s, [x.customer]),
    "customers.list_customers": lambda f, s, x: f(s, CustomerFilter(search=x.name), CustomerOrder.ID.key(), ARGS),
    "customers.count_customers": lambda f, s, x: f(s, CustomerFilter(search=x.name)),
    "graph.referrals_pages": lambda f, s, x: f(s, [x.customer], ARGS),
    "graph.referral_counts": lambda f, s, x: f(s, [x.customer]),
    "graph.referral_trees": lambda f, s, x: f(s, [x.customer], 3, 20),
    "graph.referral_stats": lambda f, s, x: f(s, [x.customer]),
    "graph.links_pages": lambda f, s, x: f(s, [x.customer], ARGS),
    "graph.link_counts": lambda f, s, x: f(s, [x.customer]),
    "graph.links_by_ids": lambda f, s, x: f(s, [x.link]),
    "interactions.interactions_pages": lambda f, s, x: f(s, [x.customer], ARGS),
    "interactions.interaction_counts": lambda f, s, x: f(s, [x.customer]),
    "interactions.interactions_by_ids": lambda f, s, x: f(s, [x.interaction]),
    "orders.orders_pages": lambda f, s, x: f(s, [x.customer], ARGS),
    "orders.order_counts": lambda f, s, x: f(s, [x.customer]),
    "orders.order_summaries": lambda f, s, x: f(s, [x.customer]),
    "orders.orders_by_ids": lambda f, s, x: f(s, [x.order]),
    "orders.order_lines": lambda f, s, x: f(s, [x.order]),
    "recommendations.recommendations": lambda f, s, x: f(s, [x.customer]),
    "audit.list_audit_events": lambda f, s, x: f(s, AuditFilter(entity_type="customer", entity_id=x.customer), ARGS),
    "audit.count_audit_events": lambda f, s, x: f(s, AuditFilter(entity_type="customer", entity_id=x.customer)),
    "audit.audit_events_by_ids": lambda f, s, x: f(s, x.events),
    "complaints.complaints_by_ids": lambda f, s, x: f(s, [x.complaint]),
    "complaints.list_complaints": lambda f, s, x: f(s, ComplaintFilter(customer_id=x.customer), ComplaintOrder.DUE_AT, ARGS),
    "complaints.count_complaints": lambda f, s, x: f(s, ComplaintFilter(search=x.reference)),
    "complaints.complaint_by_reference": lambda f, s, x: f(s, x.reference),
    "complaints.complaints_pages": lambda f, s, x: f(s, [x.customer], ARGS),
    "complaints.complaint_counts": lambda f, s, x: f(s, [x.customer]),
    "timeline.timeline_pages": lambda f, s, x: f(s, [x.complaint], ARGS),
    "timeline.timeline_counts": lambda f, s, x: f(s, [x.complaint]),
    "surveys.survey_answers": lambda f, s, x: f(s, [x.complaint]),
    "follow_ups.follow_ups_pages": lambda f, s, x: f(s, [x.customer], ARGS),
    "follow_ups.follow_up_counts": lambda f, s, x: f(s, [x.customer]),
    "follow_ups.follow_ups_by_ids": lambda f, s, x: f(s, [x.follow_up]),
    "segments.segments_by_customer": lambda f, s, x: f(s, [x.customer]),
    "segments.segment_history": lambda f, s, x: f(s, x.customer),
    "pool.pool_events": lambda f, s, x: f(s, [x.customer]),
    "loyalty.loyalty": lambda f, s, x: f(s, [x.customer]),
    "loyalty.level_changes": lambda f, s, x: f(s, [x.customer]),
    "loyalty.points_pages": lambda f, s, x: f(s, [x.customer], ARGS),
    "loyalty.points_counts": lambda f, s, x: f(s, [x.customer]),
    "loyalty.points_entries_by_ids": lambda f, s, x: f(s, [x.points_entry]),
}

# Everything else in models/ that is a coroutine, and why it is no read of customer data.
NOT_CUSTOMER_READS = {
    **dict.fromkeys(
        ["customers.create_customer", "customers.update_customer", "customers.delete_customer",
         "graph.set_referrer", "graph.link_customers", "graph.unlink_customers",
         "interactions.log_interaction", "orders.record_order", "orders.change_order_status"],
        "a write: answers through customers_by_ids, a read listed above",
    ),
    **dict.fromkeys(
        ["staff.list_users", "staff.count_users", "staff.users_by_ids", "staff.list_teams", "staff.count_teams",
         "staff.all_teams", "staff.teams_by_ids", "staff.list_roles", "staff.count_roles", "staff.roles_by_ids",
         "staff.role_ids_by_user", "staff.role_user_counts", "tokens.list_api_tokens", "tokens.count_api_tokens",
         "tokens.tokens_by_ids", "tokens.user_id_for_email", "audit.actors", "staff.lead_choices"],
        "staff, teams, roles and tokens: bounded by the reach of a manager (test_delegation.py)",
    ),
    **dict.fromkeys(
        ["staff.create_team", "staff.update_team", "staff.create_role", "staff.update_role",
         "staff.set_role_permission", "staff.delete_role", "staff.create_user", "staff.update_user",
         "staff.deactivate_user", "staff.reactivate_user", "staff.reset_password", "tokens.create_api_token",
         "tokens.revoke_api_token", "tokens.issue_login_token", "tokens.issue_explorer_token", "staff.set_my_language"],
        "a write to staff, teams, roles or tokens (test_delegation.py)",
    ),
    **dict.fromkeys(
        ["access.authenticate", "access.viewer_of", "tokens.viewer_for_token", "tokens.read_token", "bearer.bearer",
         "sessions.start_session",
         "sessions.viewer_for_session", "sessions.end_session", "sessions.revoke_user_sessions"],
        "signing in: who the caller is, before there is a scope",
    ),
    **dict.fromkeys(
        ["complaints.file_complaint", "complaints.transition_complaint", "complaints.assign_complaint",
         "complaints.add_complaint_note", "surveys.submit_survey", "surveys.answer_survey"],
        "a write to a complaint the caller sees (complaints.visible), answering through complaints_by_ids",
    ),
    **dict.fromkeys(
        ["timeline.append", "notifications.notify", "live.announce", "live.announce_many",
         "escalation.sweep"],
        "a write inside a complaint's transaction, or the system's sweep; announcements carry ids only",
    ),
    **dict.fromkeys(
        ["notifications.list_notifications", "notifications.count_notifications",
         "notifications.mark_notifications_read"],
        "the caller's own inbox, read through complaints.visible (test_complaints.py: a hidden complaint's is absent)",
    ),
    **dict.fromkeys(
        ["service_levels.working_calendar", "service_levels.clock_for", "service_levels.sla_policies",
         "service_levels.calendar_days", "service_levels.update_sla_policy", "service_levels.update_working_calendar",
         "complaints.categories", "complaints.set_category", "complaints.offered_categories",
         "service_levels.policies_for", "service_levels.calendar_for"],
        "configuration: SLA policies, the working calendar and categories belong to no customer",
    ),
    **dict.fromkeys(
        ["complaints.colleagues", "complaints.assignable", "complaints.queue_teams", "follow_ups.follow_up_assignees"],
        "staff named on complaints (id and name), or those within the caller's reach (test_delegation.py)",
    ),
    "surveys.survey_for_token": "the survey link's token is the customer's credential; it names no customer",
    "segments.recompute": "the system's refresh of every segment; read back through segments_by_customer",
    "churn.sweep": "the system's sweep; alerts are read through churn_alerts (test_churn.py: a hidden customer's is absent)",
    **dict.fromkeys(
        ["follow_ups.schedule_follow_up", "follow_ups.complete_follow_up", "follow_ups.cancel_follow_up",
         "follow_ups.reschedule_follow_up"],
        "a write to a follow-up of a customer the caller sees, answering through follow_ups_by_ids",
    ),
    **dict.fromkeys(
        ["follow_ups.my_follow_ups", "follow_ups.count_my_follow_ups", "birthdays.upcoming_birthdays",
         "churn.churn_alerts", "churn.count_churn_alerts"],
        "a list over all the caller sees, not about one customer (test_follow_ups.py: a hidden customer is absent)",
    ),
    **dict.fromkeys(
        ["pool.customer_pool", "pool.count_pool", "pool.about_to_release"],
        "the caller's own customers, or its team's pool, a grant of customer.claim (test_pool.py: no other team's, nothing more of them)",
    ),
    **dict.fromkeys(
        ["pool.claim_customer", "pool.release_customer"],
        "a write to a customer of the caller's pool or scope, answering through customers_by_ids",
    ),
    **dict.fromkeys(
        ["analytics.window", "analytics.teams", "analytics.tier_distribution", "analytics.lifecycle_funnel", "analytics.new_customers",
         "analytics.revenue", "analytics.retention_rate", "analytics.repeat_purchase_rate", "analytics.churn_alerts_opened",
         "analytics.top_referrers", "analytics.satisfaction", "analytics.complaint_resolution_hours",
         "analytics.sla_compliance_rate", "loyalty.ledger_chunk", "reports.segment_export", "reports.ledger_export"],
        "figures and exports over all the caller sees, not about one customer (test_analytics.py, test_reports.py:"
        " another team's customers count for nothing and are in no export)",
    ),
    **dict.fromkeys(
        ["loyalty.redeem_points", "loyalty.adjust_points"],
        "a write to the ledger of a customer the caller sees, answering through points_entries_by_ids",
    ),
    **dict.fromkeys(
        ["loyalty.on_paid", "loyalty.on_refunded"],
        "a write inside the transaction of a payment or refund of an order the caller sees; it answers nothing",
    ),
    **dict.fromkeys(
        ["pool.sweep", "segments.refresh", "sweep.sweep", "loyalty.sweep"],
        "the system's sweep; what it changes is read through the reads above",
    ),
    **dict.fromkeys(
        ["saved_segments.saved_segments", "saved_segments.saved_segments_by_ids", "saved_segments.save_segment",
         "saved_segments.delete_segment"],
        "a named filter, no customer data: its customers are read through list_customers (test_saved_segments.py)",
    ),
    **dict.fromkeys(
        ["analytics.instants", "settings.current", "settings.change", "rules.rules", "rules.update_rules", "rules.exchange_rates",
         "rules.set_exchange_rate", "birthdays.business_today"],
        "configuration: the rules, settings and exchange rates belong to no customer",
    ),
    "sql.fetch": "runs a statement that a read above writes, scope included",
    "pagination.fetch_pages": "runs a statement that a read above writes, scope included",
    "customers.customers_page": "runs a customer list that a read above (or the pool) conditions, scope included",
    "audit.record": "appends to the log",
    "idempotency.once": "runs a write; its replay reads through the loaders (test_replays.py)",
    "idempotency.sweep": "deletes expired keys",
    "refusals.guard": "counts the caller's own refusals",
    "demo.seed_demo": "writes demo data as the system",
    "demo.seed_demo_staff": "writes demo staff as the system",
    "demo.is_empty": "whether the database has any customer, for seed-demo --if-empty",
    "db.init": "opens the database",
    "db.close": "closes the database",
    "passwords.hash_password": "hashes",
    "passwords.verify_password": "hashes",
}

LOADER_KEYS: dict[str, Callable[[Side], Any]] = {
    "customer": lambda x: (x.customer, COLUMNS),
    "interaction": lambda x: x.interaction,
    "order": lambda x: x.order,
    "link": lambda x: x.link,
    "tags": lambda x: (x.customer,),
    "referrals": lambda x: (x.customer, ARGS, COLUMNS),
    "referral_count": lambda x: (x.customer,),
    "referral_tree": lambda x: (x.customer, 3, 20),
    "referral_stats": lambda x: (x.customer,),
    "links": lambda x: (x.customer, ARGS, frozenset()),
    "link_count": lambda x: (x.customer, frozenset()),
    "interactions": lambda x: (x.customer, ARGS, frozenset()),
    "interaction_count": lambda x: (x.customer, frozenset()),
    "orders": lambda x: (x.customer, ARGS),
    "order_count": lambda x: (x.customer,),
    "order_summary": lambda x: (x.customer,),
    "audit_event": lambda x: x.events[0],
    "complaint": lambda x: x.complaint,
    "complaints": lambda x: (x.customer, ARGS),
    "complaint_count": lambda x: (x.customer,),
    "timeline": lambda x: (x.complaint, ARGS),
    "timeline_count": lambda x: (x.complaint,),
    "survey_answer": lambda x: x.complaint,
    "follow_up": lambda x: x.follow_up,
    "follow_ups": lambda x: (x.customer, ARGS),
    "follow_up_count": lambda x: (x.customer,),
    "segment": lambda x: x.customer,
    "pool_events": lambda x: (x.customer,),
    "order_lines": lambda x: x.order,
    "recommendations": lambda x: (x.customer, 5),
    "loyalty": lambda x: x.customer,
    "level_changes": lambda x: x.customer,
    "points_entry": lambda x: x.points_entry,
    "points_ledger": lambda x: (x.customer, ARGS),
    "points_count": lambda x: (x.customer,),
}
# Loaders of what is no customer's data; what they lead to is read through the loaders above.
OTHER_LOADERS = {"saved_segment"}
STAFF_LOADERS = {"user", "audit_actor", "role", "team", "role_ids", "role_user_count", "api_token", "colleague"}


def nothing(value: Any) -> bool:
    """Whether a read answered nothing: no rows, zero, empty, or a map of such answers."""
    if isinstance(value, Page):
        return not value.rows
    if isinstance(value, dict):
        return all(nothing(v) for v in value.values())
    if isinstance(value, list | tuple):
        return not value
    if isinstance(value, ReferralStats | OrderSummary | loyalty.Loyalty):
        return value == type(value)()
    return value in (0, None)


def _coroutines() -> dict[str, Callable[..., Awaitable[Any]]]:
    """Every public coroutine function defined in a module of models/, by ``module.name``."""
    found = {}
    for info in pkgutil.iter_modules(models.__path__):
        if info.name == "migrations":
            continue
        module = importlib.import_module(f"models.{info.name}")
        for name, value in vars(module).items():
            if (
                not name.startswith("_")
                and inspect.iscoroutinefunction(value)
                and getattr(value, "__module__", None) == module.__name__
            ):
                found[f"{info.name}.{name}"] = value
    return found


def test_every_coroutine_in_models_is_classified():
    unlisted = set(_coroutines()) - set(READS) - set(NOT_CUSTOMER_READS)
    assert not unlisted, f"list these in READS (with how to call them) or NOT_CUSTOMER_READS (with why): {sorted(unlisted)}"
    assert not (set(READS) | set(NOT_CUSTOMER_READS)) - set(_coroutines()), "listed but gone"


def test_every_loader_is_classified():
    loaders = {name for name, value in vars(Loaders).items() if isinstance(value, cached_property)}
    assert loaders == set(LOADER_KEYS) | STAFF_LOADERS | OTHER_LOADERS


@pytest.mark.parametrize("name", sorted(READS))
async def test_each_read_answers_nothing_about_a_customer_out_of_scope(world, name):
    module, function = name.split(".")
    read = getattr(importlib.import_module(f"models.{module}"), function)
    assert not nothing(await READS[name](read, world.caller, world.visible)), "the visible side answers"
    assert nothing(await READS[name](read, world.caller, world.hidden)), "the hidden side answers nothing"
    assert not nothing(await READS[name](read, SYSTEM, world.hidden)), "the hidden side has the data"


@pytest.mark.parametrize("name", sorted(LOADER_KEYS))
async def test_each_loader_answers_nothing_about_a_customer_out_of_scope(world, name):
    def load(scope: Scope, side: Side) -> Awaitable[Any]:
        return getattr(Loaders(scope), name).load(LOADER_KEYS[name](side))

    assert not nothing(await load(world.caller, world.visible))
    assert nothing(await load(world.caller, world.hidden))
    assert not nothing(await load(SYSTEM, world.hidden))
