"""Customers in GraphQL: the type, its list, and create / update / delete."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types.nodes import SelectedField, Selection

from models import customers, recommendations
from models.customer_filter import CustomerFilter
from models.customers import CustomerOrder, Gender, Source
from models.errors import DomainError, ErrorCode
from models.graph import MAX_TREE_DEPTH, LinkKind, tree_args
from models.interactions import InteractionKind
from models.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from models.recommendations import MAX_FIRST as MAX_RECOMMENDATIONS
from models.segments import Stage, Tier
from schema import graph, interactions, orders
from schema.context import Info
from schema.errors import UserError, bad_input
from schema.ids import from_global_id, to_global_id
from schema.mutations import Idempotent, input_dict, payload
from schema.recommendations import Recommendation
from schema.relay import PAGE_ARGS_DOC, Connection, Node, child_connection, connection, page_args

if TYPE_CHECKING:
    from schema.complaints import Complaint
    from schema.follow_ups import FollowUp
    from schema.loyalty import Loyalty, PointsEntry
    from schema.pool import PoolEvent
    from schema.segments import Segment

__all__ = ["Customer", "CustomerMutations", "CustomerQueries", "load_customer"]

strawberry.enum(Source, name="CustomerSource", description="The channel a customer first came through.")
strawberry.enum(Gender, name="Gender", description="A customer's gender, where they gave it.")
strawberry.enum(Tier, name="CustomerTier", description="How much effort a customer deserves: VIP, ACTIVE, POTENTIAL, DORMANT.")
strawberry.enum(Stage, name="LifecycleStage", description="Where a customer is in their life with the business.")


ComplaintRef = Annotated["Complaint", strawberry.lazy("schema.complaints")]
FollowUpRef = Annotated["FollowUp", strawberry.lazy("schema.follow_ups")]
SegmentRef = Annotated["Segment", strawberry.lazy("schema.segments")]
PoolEventRef = Annotated["PoolEvent", strawberry.lazy("schema.pool")]
LoyaltyRef = Annotated["Loyalty", strawberry.lazy("schema.loyalty")]
PointsEntryRef = Annotated["PointsEntry", strawberry.lazy("schema.loyalty")]


def _arg(name: str) -> Any:
    return strawberry.argument(description=PAGE_ARGS_DOC[name])


@strawberry.type(description="A person or company the business sells to.")
class Customer(Node):
    pk: strawberry.Private[int]
    referrer_pk: strawberry.Private[int | None]
    owner_pk: strawberry.Private[int | None]
    team_pk: strawberry.Private[int | None]
    name: str = strawberry.field(description="Full name or company name.")
    phone: str | None = strawberry.field(description="Mobile or phone number in E.164 form (+8613812345678).")
    email: str | None = strawberry.field(description="Email address, lower case.")
    birthday: date | None = strawberry.field(description="Date of birth.")
    gender: Gender | None = strawberry.field(description="Gender, where given.")
    company: str | None = strawberry.field(description="The company the customer works for or is.")
    source: Source = strawberry.field(description="The channel the customer first came through.")
    custom_fields: JSON = strawberry.field(description="The business's own fields: a flat JSON object.")
    notes: str = strawberry.field(description="Free-text notes.")
    recorded_referred_at: strawberry.Private[datetime | None]
    created_at: datetime = strawberry.field(description="When the customer was created.")
    updated_at: datetime = strawberry.field(description="When the customer was last changed.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Customer:
        """A customer from a row of any of its columns: what a field needs was read (``columns``)."""
        get = row.get
        gender, source = get("gender"), get("source")
        return cls(
            id=to_global_id("Customer", row["id"]),
            pk=row["id"],
            referrer_pk=get("referrer_id"),
            owner_pk=get("owner_id"),
            team_pk=get("team_id"),
            name=get("name"),
            phone=get("phone"),
            email=get("email"),
            birthday=get("birthday"),
            gender=Gender(gender) if gender else None,
            company=get("company"),
            source=Source(source) if source else None,
            custom_fields=get("custom_fields"),
            notes=get("notes"),
            recorded_referred_at=get("referred_at"),
            created_at=get("created_at"),
            updated_at=get("updated_at"),
        )

    @classmethod
    async def load(cls, info: Info, pk: int) -> Customer | None:
        return await load_customer(info, pk)

    @strawberry.field(description="The User who owns the customer; null while it is in its team's public pool.")
    def owner_id(self) -> strawberry.ID | None:
        return None if self.owner_pk is None else to_global_id("User", self.owner_pk)

    @strawberry.field(description="The Team the customer belongs to.")
    def team_id(self) -> strawberry.ID | None:
        return None if self.team_pk is None else to_global_id("Team", self.team_pk)

    @strawberry.field(description="Moves to and from the team's public pool, newest first (at most 20): who owned it when.")
    async def pool_events(self, info: Info) -> list[PoolEventRef]:
        from schema.pool import PoolEvent  # noqa: F811 (the pool's types name customers)

        return [PoolEvent.from_row(row) for row in await info.context.loaders.pool_events.load((self.pk,))]

    @strawberry.field(description="Tags on the customer, in alphabetical order.")
    async def tags(self, info: Info) -> list[str]:
        return await info.context.loaders.tags.load((self.pk,))

    @strawberry.field(description="Who referred this customer; null when nobody did or they are not visible.")
    async def referrer(self, info: Info) -> Customer | None:
        return None if self.referrer_pk is None else await load_customer(info, self.referrer_pk)

    @strawberry.field(
        description="When the current referrer was recorded; null when there is none or they are not visible."
    )
    async def referred_at(self, info: Info) -> datetime | None:
        # Even the time would tell that an invisible customer referred this one.
        return self.recorded_referred_at if await self.referrer(info) is not None else None

    @strawberry.field(description="Customers this customer referred directly, most recently referred first.")
    async def referrals(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        last: Annotated[int | None, _arg("last")] = None,
        before: Annotated[str | None, _arg("before")] = None,
    ) -> Connection[Customer]:
        loaders = info.context.loaders
        page = await loaders.referrals.load((self.pk, page_args(first, after, last, before), columns(info, "edges", "node")))
        return connection(page, Customer.from_row, lambda: loaders.referral_count.load((self.pk,)))

    @strawberry.field(
        description=(
            "Everyone downstream of this customer, level 1 being direct referrals: nearest levels "
            "first, at most `first` entries. `referralStats` counts the whole downstream."
        )
    )
    async def referral_tree(
        self,
        info: Info,
        depth: Annotated[int, strawberry.argument(description=f"How many levels down to go, 1 to {MAX_TREE_DEPTH}.")] = 3,
        first: Annotated[int, strawberry.argument(description=f"At most this many entries, 0 to {MAX_PAGE_SIZE}.")] = DEFAULT_PAGE_SIZE,
    ) -> list[graph.ReferralTreeEntry]:
        try:
            key = (self.pk, *tree_args(depth, first))
        except DomainError as error:
            raise bad_input(error) from None
        entries = await info.context.loaders.referral_tree.load(key)
        return [graph.ReferralTreeEntry(level=level, customer=Customer.from_row(row)) for level, row in entries]

    @strawberry.field(description="Counts and revenue of everyone downstream, computed in one SQL statement.")
    async def referral_stats(self, info: Info) -> graph.ReferralStats:
        return graph.ReferralStats.from_stats(await info.context.loaders.referral_stats.load((self.pk,)))

    @strawberry.field(description="Secondary-customer links in both directions, newest first.")
    async def links(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        last: Annotated[int | None, _arg("last")] = None,
        before: Annotated[str | None, _arg("before")] = None,
        kinds: Annotated[list[LinkKind] | None, strawberry.argument(description="Only links of these kinds.")] = None,
    ) -> Connection[graph.CustomerLink]:
        loaders = info.context.loaders
        kind_key = frozenset(kinds or ())
        page = await loaders.links.load((self.pk, page_args(first, after, last, before), kind_key))
        return connection(
            page,
            lambda row: graph.CustomerLink.from_row(row, self.pk),
            lambda: loaders.link_count.load((self.pk, kind_key)),
        )

    @strawberry.field(description="The customer's timeline: interactions, newest first.")
    async def interactions(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        last: Annotated[int | None, _arg("last")] = None,
        before: Annotated[str | None, _arg("before")] = None,
        kinds: Annotated[list[InteractionKind] | None, strawberry.argument(description="Only interactions of these kinds.")] = None,
    ) -> Connection[interactions.Interaction]:
        loaders = info.context.loaders
        kind_key = frozenset(kinds or ())
        page = await loaders.interactions.load((self.pk, page_args(first, after, last, before), kind_key))
        return connection(
            page,
            interactions.Interaction.from_row,
            lambda: loaders.interaction_count.load((self.pk, kind_key)),
        )

    @strawberry.field(description="The customer's orders, newest first.")
    async def orders(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        last: Annotated[int | None, _arg("last")] = None,
        before: Annotated[str | None, _arg("before")] = None,
    ) -> Connection[orders.Order]:
        loaders = info.context.loaders
        return await child_connection(loaders.orders, loaders.order_count, self.pk, page_args(first, after, last, before), orders.Order.from_row)

    @strawberry.field(description="The customer's complaints, newest first; empty without complaint.read.")
    async def complaints(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        last: Annotated[int | None, _arg("last")] = None,
        before: Annotated[str | None, _arg("before")] = None,
    ) -> Connection[ComplaintRef]:
        from schema.complaints import Complaint  # noqa: F811 (complaints import this module)

        loaders = info.context.loaders
        return await child_connection(loaders.complaints, loaders.complaint_count, self.pk, page_args(first, after, last, before), Complaint.from_row)

    @strawberry.field(description="The customer's tier, lifecycle stage and RFM scores, with the reasons; null until computed.")
    async def segment(self, info: Info) -> SegmentRef | None:
        from schema.segments import Segment  # noqa: F811 (segments import this module)

        row = await info.context.loaders.segment.load(self.pk)
        return None if row is None else Segment.from_row(row, info.context.language)

    @strawberry.field(description="The customer's follow-ups, by due date.")
    async def follow_ups(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        last: Annotated[int | None, _arg("last")] = None,
        before: Annotated[str | None, _arg("before")] = None,
    ) -> Connection[FollowUpRef]:
        from schema.follow_ups import FollowUp  # noqa: F811 (follow_ups import this module)

        loaders = info.context.loaders
        return await child_connection(loaders.follow_ups, loaders.follow_up_count, self.pk, page_args(first, after, last, before), FollowUp.from_row)

    @strawberry.field(description="The customer's loyalty points and membership level.")
    async def loyalty(self, info: Info) -> LoyaltyRef:
        from schema.loyalty import Loyalty  # noqa: F811 (loyalty imports this module)

        return Loyalty.of(self.pk, await info.context.loaders.loyalty.load(self.pk))

    @strawberry.field(description="The customer's points ledger, newest entry first.")
    async def points_ledger(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        last: Annotated[int | None, _arg("last")] = None,
        before: Annotated[str | None, _arg("before")] = None,
    ) -> Connection[PointsEntryRef]:
        from schema.loyalty import PointsEntry  # noqa: F811 (loyalty imports this module)

        loaders = info.context.loaders
        return await child_connection(loaders.points_ledger, loaders.points_count, self.pk, page_args(first, after, last, before), PointsEntry.from_row)

    @strawberry.field(
        description="Products to offer the customer next, best first: those bought by the customers you see who bought what "
                    "this customer bought, then the best sellers of the customer's tier; what the customer has is left out."
    )
    async def recommendations(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=f"At most this many, 1 to {MAX_RECOMMENDATIONS}.")] = 5,
    ) -> list[Recommendation]:
        try:
            first = recommendations.checked_first(first)
        except DomainError as error:
            raise bad_input(error) from None
        found = await info.context.loaders.recommendations.load((self.pk, first))
        return [Recommendation.of(item, info.context.language) for item in found]

    @strawberry.field(description="How many paid orders the customer has (refunded and cancelled ones do not count).")
    async def order_count(self, info: Info) -> int:
        return (await info.context.loaders.order_summary.load((self.pk,))).paid_count

    @strawberry.field(description="The sum of paid orders, one entry per currency, largest first.")
    async def lifetime_value(self, info: Info) -> list[orders.Money]:
        summary = await info.context.loaders.order_summary.load((self.pk,))
        return [orders.Money.of(amount, currency) for amount, currency in summary.lifetime_value]

    @strawberry.field(description="When the latest paid order was placed; null before the first.")
    async def last_order_at(self, info: Info) -> datetime | None:
        return (await info.context.loaders.order_summary.load((self.pk,))).last_order_at


async def load_customer(info: Info, pk: int) -> Customer | None:
    """The customer a field returns, through the request's loader; null when absent or out of scope."""
    row = await info.context.loaders.customer.load((pk, columns(info)))
    return Customer.from_row(row) if row else None


# The columns each Customer field reads. The others read the id alone (_BY_ID); a field in
# neither set reads every column, so a new field is right before it is listed here.
_FIELD_COLUMNS = {
    "name": ("name",), "phone": ("phone",), "email": ("email",), "birthday": ("birthday",),
    "gender": ("gender",), "company": ("company",), "source": ("source",), "customFields": ("custom_fields",),
    "notes": ("notes",), "createdAt": ("created_at",), "updatedAt": ("updated_at",),
    "referrer": ("referrer_id",), "referredAt": ("referrer_id", "referred_at"), "ownerId": ("owner_id",), "teamId": ("team_id",),
}
_BY_ID = frozenset({
    "id", "__typename", "tags", "referrals", "referralTree", "referralStats", "links", "interactions", "orders",
    "orderCount", "lifetimeValue", "lastOrderAt", "complaints", "followUps", "segment", "poolEvents", "loyalty", "pointsLedger", "recommendations",
})


def columns(info: Info, *path: str) -> tuple[str, ...]:
    """The columns to read of the customers this field returns (at ``path`` inside it, for a
    connection's ``edges``, ``node``): those the query's selection of them needs.

    Worked out once per field of the query, not for each of the (many) parents it is read on.
    """
    memo = info.context.customer_columns
    # The nodes merged into this field: a named fragment's nodes are the same objects wherever
    # it is spread, but what they are merged with differs from place to place.
    key = (*map(id, info._raw_info.field_nodes), path)
    if (found := memo.get(key)) is None:
        names = {name for field in info.selected_fields for name in _selected(field.selections, path)}
        if names <= _BY_ID | _FIELD_COLUMNS.keys():
            found = customers.columns_of(column for name in names for column in _FIELD_COLUMNS.get(name, ()))
        else:
            found = customers.COLUMNS
        memo[key] = found
    return found


def _selected(selections: list[Selection], path: tuple[str, ...]) -> Iterator[str]:
    """Names of the fields selected at ``path`` below ``selections``, fragments included."""
    for selection in selections:
        if not isinstance(selection, SelectedField):
            yield from _selected(selection.selections, path)
        elif not path:
            yield selection.name
        elif selection.name == path[0]:
            yield from _selected(selection.selections, path[1:])


@strawberry.input(description="Narrow the customer list; all given conditions must hold. Saved segments keep one.")
class CustomerFilterInput:
    search: str | None = strawberry.field(
        default=None, description="Text in the name, email or phone (digits match anywhere in the number)."
    )
    tags: list[str] | None = strawberry.field(default=None, description="Customers carrying every one of these tags (at most 10).")
    source: list[Source] | None = strawberry.field(default=None, description="Customers from any of these channels.")
    created_after: datetime | None = strawberry.field(default=None, description="Created at or after this time.")
    created_before: datetime | None = strawberry.field(default=None, description="Created before this time.")
    tiers: list[Tier] | None = strawberry.field(default=None, description="Customers of any of these tiers (as last computed).")
    stages: list[Stage] | None = strawberry.field(default=None, description="Customers in any of these lifecycle stages.")
    recency_min: int | None = strawberry.field(default=None, description="RFM recency score at least this (1–5).")
    recency_max: int | None = strawberry.field(default=None, description="RFM recency score at most this (1–5).")
    frequency_min: int | None = strawberry.field(default=None, description="RFM frequency score at least this (1–5).")
    frequency_max: int | None = strawberry.field(default=None, description="RFM frequency score at most this (1–5).")
    monetary_min: int | None = strawberry.field(default=None, description="RFM monetary score at least this (1–5).")
    monetary_max: int | None = strawberry.field(default=None, description="RFM monetary score at most this (1–5).")
    owner_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="Customers owned by any of these Users (at most 50).")
    team_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="Customers of any of these Teams (at most 50).")
    last_paid_after: datetime | None = strawberry.field(default=None, description="The last paid order placed at or after this time.")
    last_paid_before: datetime | None = strawberry.field(
        default=None, description="The last paid order placed before this time (customers who never paid are left out)."
    )
    has_open_complaint: bool | None = strawberry.field(
        default=None, description="True: with a complaint not yet resolved, closed or cancelled; false: without one."
    )
    birthday_within_days: int | None = strawberry.field(
        default=None, description="A birthday from today to this many days ahead (0–31); needs customer.pii."
    )

    def to_domain(self) -> CustomerFilter:
        """The domain's filter; a malformed owner or team ID is refused (DomainError)."""
        return CustomerFilter(
            search=self.search,
            tags=tuple(self.tags or ()),
            sources=tuple(self.source or ()),
            created_after=self.created_after,
            created_before=self.created_before,
            tiers=tuple(self.tiers or ()),
            stages=tuple(self.stages or ()),
            recency_min=self.recency_min,
            recency_max=self.recency_max,
            frequency_min=self.frequency_min,
            frequency_max=self.frequency_max,
            monetary_min=self.monetary_min,
            monetary_max=self.monetary_max,
            owner_ids=tuple(from_global_id(i, "ownerIds", "User")[1] for i in self.owner_ids or ()),
            team_ids=tuple(from_global_id(i, "teamIds", "Team")[1] for i in self.team_ids or ()),
            last_paid_after=self.last_paid_after,
            last_paid_before=self.last_paid_before,
            has_open_complaint=self.has_open_complaint,
            birthday_within_days=self.birthday_within_days,
        )


@strawberry.enum(description="What to sort customers by; ties are broken by id.")
class CustomerOrderField(Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    NAME = "name"
    ID = "id"


@strawberry.enum(description="Sort direction.")
class OrderDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.input(description="The order of a customer list.")
class CustomerOrderByInput:
    field: CustomerOrderField = strawberry.field(description="The field to sort by.")
    direction: OrderDirection | None = strawberry.field(
        default=None, description="ASC or DESC; by default NAME sorts ascending, the others descending."
    )


def _sort_key(order_by: CustomerOrderByInput | None):
    if order_by is None:
        return CustomerOrder.CREATED_AT.key()
    direction = None if order_by.direction is None else order_by.direction is OrderDirection.DESC
    return CustomerOrder[order_by.field.name].key(direction)


def customer_id(value: strawberry.ID, field: str) -> int:
    """A Customer global ID from a mutation input; a bad one ends the mutation with an error."""
    return from_global_id(value, field, "Customer")[1]


@strawberry.type
class CustomerQueries:
    @strawberry.field(description="One customer by global ID; null when there is none or it is not visible.")
    async def customer(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The customer's global ID.")]
    ) -> Customer | None:
        try:
            pk = customer_id(id, "id")
        except DomainError as error:
            if error.errors[0].code is ErrorCode.NOT_FOUND:
                return None
            raise bad_input(error) from None
        return await load_customer(info, pk)

    @strawberry.field(description="Customers, newest first unless `orderBy` says otherwise.")
    async def customers(
        self,
        info: Info,
        first: Annotated[int | None, _arg("first")] = None,
        after: Annotated[str | None, _arg("after")] = None,
        last: Annotated[int | None, _arg("last")] = None,
        before: Annotated[str | None, _arg("before")] = None,
        filter: Annotated[CustomerFilterInput | None, strawberry.argument(description="Conditions to narrow the list.")] = None,
        order_by: Annotated[CustomerOrderByInput | None, strawberry.argument(description="How to sort the list.")] = None,
    ) -> Connection[Customer]:
        return await customer_list(info, (filter or CustomerFilterInput()).to_domain, page_args(first, after, last, before), order_by)


async def customer_list(
    info: Info, domain_filter: Callable[[], CustomerFilter], args: Any, order_by: CustomerOrderByInput | None = None
) -> Connection[Customer]:
    """A page of the visible customers a filter picks, with their count: ``customers`` and a saved
    segment's ``customers`` alike. The filter is made inside, so that a bad one is a client error."""
    scope = info.context.scope
    try:
        chosen = domain_filter()
        page = await customers.list_customers(scope, chosen, _sort_key(order_by), args, columns(info, "edges", "node"))
    except DomainError as error:
        raise bad_input(error) from None
    return connection(page, Customer.from_row, lambda: customers.count_customers(scope, chosen))


@strawberry.input(description="A new customer. Phone or email already held by a live customer is refused.")
class CreateCustomerInput(Idempotent):
    name: str = strawberry.field(description="Full name or company name, at most 200 characters.")
    phone: str | None = strawberry.field(default=None, description="A Chinese mobile number or an E.164 number.")
    email: str | None = strawberry.field(default=None, description="An email address.")
    birthday: date | None = strawberry.field(default=None, description="Date of birth, not in the future.")
    gender: Gender | None = strawberry.field(default=None, description="Gender, where given.")
    company: str | None = strawberry.field(default=None, description="Company, at most 200 characters.")
    source: Source | None = strawberry.field(default=None, description="First channel; OTHER when not given.")
    tags: list[str] | None = strawberry.field(default=None, description="Up to 50 tags of up to 50 characters.")
    custom_fields: JSON | None = strawberry.field(
        default=None, description="A flat JSON object: up to 50 keys, scalar values, 16 KiB."
    )
    notes: str | None = strawberry.field(default=None, description="Free-text notes, at most 10,000 characters.")
    referrer_id: strawberry.ID | None = strawberry.field(default=None, description="The customer who referred this one.")


@strawberry.input(description="Changes to a customer: fields left out stay as they are; null clears.")
class UpdateCustomerInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The customer's global ID.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Full name or company name.")
    phone: str | None = strawberry.field(
        default=strawberry.UNSET, description="A Chinese mobile or E.164 number; a request sets it once (RATE_LIMITED after)."
    )
    email: str | None = strawberry.field(
        default=strawberry.UNSET, description="An email address; a request sets it once (RATE_LIMITED after)."
    )
    birthday: date | None = strawberry.field(default=strawberry.UNSET, description="Date of birth.")
    gender: Gender | None = strawberry.field(default=strawberry.UNSET, description="Gender.")
    company: str | None = strawberry.field(default=strawberry.UNSET, description="Company.")
    source: Source | None = strawberry.field(default=strawberry.UNSET, description="First channel.")
    tags: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Replaces all tags.")
    custom_fields: JSON | None = strawberry.field(default=strawberry.UNSET, description="Replaces all custom fields.")
    notes: str | None = strawberry.field(default=strawberry.UNSET, description="Free-text notes.")


@strawberry.input(description="The customer to delete.")
class DeleteCustomerInput(Idempotent):
    id: strawberry.ID = strawberry.field(description="The customer's global ID.")


@strawberry.type(description="The result of createCustomer.")
class CreateCustomerPayload:
    customer: Customer | None = strawberry.field(description="The new customer; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.type(description="The result of updateCustomer.")
class UpdateCustomerPayload:
    customer: Customer | None = strawberry.field(description="The customer as it is now; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.type(description="The result of deleteCustomer.")
class DeleteCustomerPayload:
    deleted_id: strawberry.ID | None = strawberry.field(description="The deleted customer's global ID.")
    errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.type
class CustomerMutations:
    @strawberry.mutation(
        description=(
            "Create a customer; refused as DUPLICATE when a live customer has the phone or email. Such refusals "
            "count against you: after a few in a minute, writes of a phone or email are RATE_LIMITED for a while."
        )
    )
    async def create_customer(
        self, info: Info, input: Annotated[CreateCustomerInput, strawberry.argument(description="The new customer.")]
    ) -> CreateCustomerPayload:
        async def run() -> dict[str, Any]:
            data = input_dict(input, exclude={"referrer_id"})
            referrer = customer_id(input.referrer_id, "referrerId") if input.referrer_id is not None else None
            row = await customers.create_customer(info.context.scope, data, referrer)
            return {"customer": row}

        return await payload(CreateCustomerPayload, run, info, input, customers.create_customer)

    @strawberry.mutation(description="Change a customer's fields.")
    async def update_customer(
        self, info: Info, input: Annotated[UpdateCustomerInput, strawberry.argument(description="The changes.")]
    ) -> UpdateCustomerPayload:
        async def run() -> dict[str, Any]:
            pk = customer_id(input.id, "id")
            row = await customers.update_customer(info.context.scope, pk, input_dict(input, exclude={"id"}))
            return {"customer": row}

        return await payload(UpdateCustomerPayload, run, info, input, customers.update_customer)

    @strawberry.mutation(description="Soft-delete a customer: they leave every list and graph; their phone and email are freed.")
    async def delete_customer(
        self, info: Info, input: Annotated[DeleteCustomerInput, strawberry.argument(description="The customer to delete.")]
    ) -> DeleteCustomerPayload:
        async def run() -> dict[str, Any]:
            row = await customers.delete_customer(info.context.scope, customer_id(input.id, "id"))
            return {"deleted_id": to_global_id("Customer", row["id"])}

        return await payload(DeleteCustomerPayload, run, info, input, customers.delete_customer)
