"""Customers: the store, its rules (validation, duplicates, soft delete) and its reads."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import refusals
from models.audit import record
from models.errors import DomainError, ErrorCode, FieldError
from models.pagination import MAX_PAGE_SIZE, Page, PageArgs, SortKey
from models.refusals import Telling
from models.scope import Scope, requires
from models.sql import Query, fetch

if TYPE_CHECKING:
    from models.customer_filter import CustomerFilter
from models.validation import (
    clean_choice,
    clean_custom_fields,
    clean_email,
    clean_phone,
    clean_tags,
    clean_text,
    not_in_future,
)

__all__ = [
    "COLUMNS",
    "Customer",
    "CustomerOrder",
    "CustomerTag",
    "Gender",
    "Source",
    "columns_of",
    "count_customers",
    "create_customer",
    "customers_by_ids",
    "customers_page",
    "delete_customer",
    "list_customers",
    "select_list",
    "tags_by_customer",
    "update_customer",
]


class Source(str, Enum):
    WEBSITE = "website"
    WECHAT = "wechat"
    WEIBO = "weibo"
    APP = "app"
    STORE = "store"
    EVENT = "event"
    REFERRAL = "referral"
    IMPORT = "import"
    OTHER = "other"


class Gender(str, Enum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class Customer(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=200)
    phone = fields.CharField(max_length=16, null=True)
    email = fields.CharField(max_length=254, null=True)
    birthday = fields.DateField(null=True)
    gender = fields.CharEnumField(Gender, max_length=8, null=True)
    company = fields.CharField(max_length=200, null=True)
    source = fields.CharEnumField(Source, max_length=16, default=Source.OTHER)
    custom_fields = fields.JSONField(default=dict)
    notes = fields.TextField(default="")
    referrer = fields.ForeignKeyField(
        "models.Customer", related_name="referrals", null=True, on_delete=fields.RESTRICT
    )
    referred_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    deleted_at = fields.DatetimeField(null=True)
    owner = fields.ForeignKeyField("models.User", related_name="customers", null=True, on_delete=fields.SET_NULL)
    team = fields.ForeignKeyField("models.Team", related_name="customers", null=True, on_delete=fields.SET_NULL)
    owned_since = fields.DatetimeField(null=True)
    """When the owner got the customer by a claim from the public pool (models/pool.py)."""
    released_at = fields.DatetimeField(null=True)
    """When the customer was last released to its team's public pool."""

    class Meta:
        table = "customer"
        indexes = (
            ("created_at", "id"), ("updated_at", "id"), ("name", "id"), ("owner_id",), ("team_id",),
            # a referrer's referrals in order; the scope's columns let a walk read the index alone
            ("referrer_id", "referred_at", "id", "team_id", "owner_id", "deleted_at"),
        )
        # Live phone and email are unique: partial indexes in migration 0001 (RunSQL).


class CustomerTag(Model):
    id = fields.BigIntField(primary_key=True)
    customer = fields.ForeignKeyField("models.Customer", related_name="tag_rows", on_delete=fields.CASCADE)
    tag = fields.CharField(max_length=50)

    class Meta:
        table = "customer_tag"
        unique_together = (("customer", "tag"),)
        indexes = (("tag", "customer_id"),)


COLUMNS = (
    "id", "name", "phone", "email", "birthday", "gender", "company", "source", "custom_fields",
    "notes", "referrer_id", "referred_at", "created_at", "updated_at", "owner_id", "team_id",
)


def columns_of(needed: Iterable[str], *also: str) -> tuple[str, ...]:
    """The customer columns to read for ``needed`` and ``also``, with the id, in table order.

    A page read by a client names few of a customer's sixteen columns; decoding the others
    (timestamps most) was a tenth of the time of a page of customers with their referrals.
    """
    wanted = {"id", *needed, *also}
    if unknown := wanted.difference(COLUMNS):
        raise ValueError(f"customer has no columns {sorted(unknown)}")
    return tuple(column for column in COLUMNS if column in wanted)


def select_list(alias: str, columns: Iterable[str] = COLUMNS) -> str:
    return ", ".join(f"{alias}.{column}" for column in columns)


_EDITABLE = {
    "name", "phone", "email", "birthday", "gender", "company", "source", "tags", "custom_fields", "notes",
}


def _clean(data: dict[str, Any], creating: bool) -> dict[str, Any]:
    """Clean every given field, collecting all errors before refusing."""
    cleaners = {
        "name": lambda v: clean_text(v, "name", max_length=200, required=True),
        "phone": clean_phone,
        "email": clean_email,
        "birthday": lambda v: not_in_future(v, "birthday"),
        "gender": lambda v: clean_choice(v, Gender, "gender"),
        "company": lambda v: clean_text(v, "company", max_length=200),
        "source": lambda v: clean_choice(v, Source, "source") or Source.OTHER,
        "tags": lambda v: clean_tags(v) or [],
        "custom_fields": lambda v: clean_custom_fields(v) or {},
        "notes": lambda v: clean_text(v, "notes", max_length=10_000, multiline=True) or "",
    }
    if creating and "name" not in data:
        data = {**data, "name": None}
    cleaned: dict[str, Any] = {}
    errors: list[FieldError] = []
    for key, value in data.items():
        if key not in _EDITABLE:
            raise ValueError(f"not an editable customer field: {key}")
        try:
            cleaned[key] = cleaners[key](value)
        except DomainError as error:
            errors.extend(error.errors)
    if errors:
        raise DomainError(errors)
    return cleaned


_PERSONAL_KEYS = ("phone", "email")


async def _refuse_duplicates(scope: Scope, values: dict[str, Any], exclude_id: int | None, *, standing: bool) -> None:
    """A live customer already has the phone or email: refuse, naming them only to who may see them unmasked.

    With ``standing``, first refuse a caller over its limits of telling refusals (refusals.py),
    read in the same statement as the holders: the check costs a write no statement of its own.
    """
    fields = [field for field in _PERSONAL_KEYS if values.get(field) is not None]
    if not fields:
        return
    q = Query()
    other = f" AND c.id <> {q.param(exclude_id)}" if exclude_id is not None else ""
    columns = [
        f"(SELECT c.id FROM customer c WHERE c.deleted_at IS NULL AND c.{field} = {q.param(values[field])}{other} LIMIT 1) AS {field}"
        for field in fields
    ]
    if standing:
        columns.append(refusals.standing(scope, q, personal=len(fields)))
    row = (await fetch(f"SELECT {', '.join(columns)}", q))[0]
    if standing:
        refusals.check(scope, row)
    for field in fields:
        existing = row[field]
        if existing is None:
            continue
        if scope.can("customer.pii") and existing in await customers_by_ids(scope, [existing]):
            raise DomainError.single(
                field, f"a customer with this {field} already exists.", ErrorCode.DUPLICATE, existing=("Customer", existing)
            )
        # Without the customer's id, in the same words whether they are visible or not, and
        # counted against the caller: uniqueness cannot help telling that the value is taken.
        raise Telling("duplicate", field, f"another customer already has this {field}.", ErrorCode.DUPLICATE)


async def _set_tags(customer_id: int, tags: list[str], connection) -> None:
    await CustomerTag.filter(customer_id=customer_id).using_db(connection).delete()
    if tags:
        await CustomerTag.bulk_create(
            [CustomerTag(customer_id=customer_id, tag=tag) for tag in tags], using_db=connection
        )


async def _stored(customer_id: int, values: dict[str, Any], with_tags: bool, connection) -> dict[str, Any]:
    """The stored values of the fields about to change, for the audit log."""
    stored = await Customer.filter(id=customer_id).using_db(connection).first().values(*values) if values else {}
    if with_tags:
        stored["tags"] = sorted(
            await CustomerTag.filter(customer_id=customer_id).using_db(connection).values_list("tag", flat=True)
        )
    return stored


async def _save(scope: Scope, values: dict[str, Any], customer_id: int | None) -> int:
    """Insert or update in one transaction; a concurrent duplicate still ends as DUPLICATE."""
    tags = values.pop("tags", None)
    try:
        async with refusals.transaction(scope) as connection:
            await _refuse_duplicates(scope, values, customer_id, standing=True)
            if customer_id is None:
                customer = await Customer.create(using_db=connection, **values)
                customer_id = customer.id
                before = None
            else:
                before = await _stored(customer_id, values, tags is not None, connection)
                values["updated_at"] = datetime.now(UTC)
                await Customer.filter(id=customer_id).using_db(connection).update(**values)
            if tags is not None:
                await _set_tags(customer_id, tags, connection)
            after = {**values, **({"tags": tags} if tags is not None else {})}
            after.pop("updated_at", None)
            action = "customer.create" if before is None else "customer.update"
            await record(scope, action, "customer", customer_id, before=before, after=after, connection=connection)
    except IntegrityError:
        # The partial unique indexes on live phone and email caught a race the check missed.
        async with refusals.transaction(scope):
            await _refuse_duplicates(scope, values, customer_id, standing=False)
        raise
    return customer_id


@requires("customer.create", "customer.read")  # the answer is the customer as the caller sees it
async def create_customer(
    scope: Scope, data: dict[str, Any], referrer_id: int | None = None
) -> dict[str, Any]:
    values = {**_clean(data, creating=True), **scope.owner()}
    if referrer_id is not None:
        await _visible_or_not_found(scope, referrer_id, "referrerId")
        values.update(referrer_id=referrer_id, referred_at=datetime.now(UTC))
    customer_id = await _save(scope, values, None)
    return (await customers_by_ids(scope, [customer_id]))[customer_id]


async def _visible_or_not_found(scope: Scope, customer_id: int, field: str = "id") -> dict[str, Any]:
    row = (await customers_by_ids(scope, [customer_id])).get(customer_id)
    if row is None:
        raise DomainError.single(field, "no such customer.", ErrorCode.NOT_FOUND)
    return row


@requires("customer.update", "customer.read")
async def update_customer(scope: Scope, customer_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change a customer's fields. A request (a batch is one) may set each one's phone and email once:
    many tries at once would find, by the one refused as DUPLICATE, a number that masking hides."""
    await _visible_or_not_found(scope, customer_id)
    values = _clean(changes, creating=False)
    for field in _PERSONAL_KEYS:
        if values.get(field) is not None and not scope.first_in_request(("personal", customer_id, field)):
            raise DomainError.single(
                field, f"a customer's {field} may change once a request; send the next change in a request of its own.",
                ErrorCode.RATE_LIMITED,
            )
    await _save(scope, values, customer_id)
    return (await customers_by_ids(scope, [customer_id]))[customer_id]


@requires("customer.delete", "customer.read")
async def delete_customer(scope: Scope, customer_id: int) -> dict[str, Any]:
    """Soft delete: the row stays for the record; the customer leaves every list and graph."""
    async with in_transaction() as connection:
        row = await _visible_or_not_found(scope, customer_id)
        now = datetime.now(UTC)
        await Customer.filter(id=customer_id, deleted_at=None).using_db(connection).update(deleted_at=now)
        await record(
            scope, "customer.delete", "customer", customer_id,
            before={"deleted_at": None}, after={"deleted_at": now}, connection=connection,
        )
    return row


async def customers_by_ids(
    scope: Scope, ids: Iterable[int], columns: tuple[str, ...] = COLUMNS
) -> dict[int, dict[str, Any]]:
    """The visible customers among ``ids``, as rows of ``columns`` (from ``columns_of``)."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    q = Query()
    sql = f"SELECT {select_list('c', columns)} FROM customer c WHERE c.id IN {q.in_list(ids)} AND {scope.customers(q, 'c')}"
    return {row["id"]: scope.present(row) for row in await fetch(sql, q, Customer)}


async def tags_by_customer(scope: Scope, ids: Iterable[int]) -> dict[int, list[str]]:
    """The tags of the visible customers among ``ids``, alphabetically."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    q = Query()
    sql = (
        f"SELECT t.customer_id, t.tag FROM customer_tag t JOIN customer c ON c.id = t.customer_id"
        f" WHERE t.customer_id IN {q.in_list(ids)} AND {scope.customers(q, 'c')} ORDER BY t.tag"
    )
    tags: dict[int, list[str]] = {}
    for row in await fetch(sql, q):
        tags.setdefault(row["customer_id"], []).append(row["tag"])
    return tags


class CustomerOrder(Enum):
    CREATED_AT = ("c.created_at", "datetime")
    UPDATED_AT = ("c.updated_at", "datetime")
    NAME = ("c.name", "text")
    ID = ("c.id", "int")

    def key(self, descending: bool | None = None) -> SortKey:
        """The sort key; without a direction, names sort A to Z and times and ids newest first."""
        column, kind = self.value
        return SortKey(column, kind, self is not CustomerOrder.NAME if descending is None else descending)


async def list_customers(
    scope: Scope, filter: CustomerFilter, order: SortKey, args: PageArgs, columns: tuple[str, ...] = COLUMNS,
    largest: int = MAX_PAGE_SIZE,
) -> Page:
    """A page of the visible customers ``filter`` picks, as rows of ``columns`` and the sort key."""
    q = Query()
    conditions = [scope.customers(q, "c"), *await filter.where(q, scope)]
    return await customers_page(scope, q, conditions, order, args, columns, largest)


async def customers_page(
    scope: Scope, q: Query, conditions: list[str], order: SortKey, args: PageArgs, columns: tuple[str, ...],
    largest: int = MAX_PAGE_SIZE,
) -> Page:
    """A page of the customers ``c`` that meet ``conditions`` (their parameters in ``q``), masked
    for the caller: the statement of every customer list, whatever decides who is in it (an
    export's pages may hold up to ``largest``)."""
    args = args.checked(largest)
    if (keyset := args.keyset_condition(order, q, "c")) is not None:
        conditions = [*conditions, keyset]
    sql = (
        f"SELECT {select_list('c', columns_of(columns, order.name))} FROM customer c"
        f" WHERE {' AND '.join(conditions)} ORDER BY {args.order_by(order, 'c')} LIMIT {args.size + 1}"
    )
    return Page.from_rows([scope.present(row) for row in await fetch(sql, q, Customer)], args, order)


async def count_customers(scope: Scope, filter: CustomerFilter) -> int:
    q = Query()
    conditions = [scope.customers(q, "c"), *await filter.where(q, scope)]
    rows = await fetch(f"SELECT COUNT(*) AS n FROM customer c WHERE {' AND '.join(conditions)}", q)
    return rows[0]["n"]

