"""Customers through the API: create, validate, detect duplicates, update, delete, list."""

from __future__ import annotations

import pytest

from models.customers import Customer, CustomerTag

CREATE = """
mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id name phone email birthday gender company source tags customFields notes referrer { id } }
    errors { field message code existingId }
  }
}
"""
UPDATE = """
mutation Update($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { id name phone email tags customFields company }
    errors { field message code existingId }
  }
}
"""
DELETE = """
mutation Delete($id: ID!) {
  deleteCustomer(input: {id: $id}) { deletedId errors { field code } }
}
"""
CUSTOMER = "query One($id: ID!) { customer(id: $id) { id name phone } }"
LIST = """
query List($first: Int, $after: String, $last: Int, $before: String,
           $filter: CustomerFilterInput, $orderBy: CustomerOrderByInput) {
  customers(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name } }
  }
}
"""


async def create(gql, **fields) -> dict:
    body = await gql(CREATE, {"input": fields})
    return body["data"]["createCustomer"]


async def test_create_customer_normalises_and_stores_every_field(gql):
    result = await create(
        gql,
        name="  张伟 ",
        phone="138 1234 5678",
        email="Zhang.Wei@Example.COM",
        birthday="1988-04-23",
        gender="MALE",
        company="上海贸易",
        source="WECHAT",
        tags=["VIP", "老客户", "VIP"],
        customFields={"level": 3, "city": "上海"},
        notes="prefers WeChat",
    )
    assert result["errors"] == []
    customer = result["customer"]
    assert customer["name"] == "张伟"
    assert customer["phone"] == "+8613812345678"
    assert customer["email"] == "zhang.wei@example.com"
    assert customer["birthday"] == "1988-04-23"
    assert customer["gender"] == "MALE"
    assert customer["source"] == "WECHAT"
    assert customer["tags"] == ["VIP", "老客户"]
    assert customer["customFields"] == {"level": 3, "city": "上海"}

    stored = await Customer.get(name="张伟")
    assert stored.phone == "+8613812345678"
    assert stored.source.value == "wechat"
    assert sorted(await CustomerTag.filter(customer_id=stored.id).values_list("tag", flat=True)) == ["VIP", "老客户"]


async def test_e164_phone_is_accepted(gql):
    result = await create(gql, name="Alice", phone="+44 20 7123 4567")
    assert result["errors"] == []
    assert result["customer"]["phone"] == "+442071234567"


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"name": "   "}, "name", "REQUIRED"),
        ({"name": "x" * 201}, "name", "TOO_LONG"),
        ({"name": "bad\x00name"}, "name", "INVALID"),
        ({"name": "A", "phone": "12345"}, "phone", "INVALID"),
        ({"name": "A", "phone": "+86 123 4567 8901"}, "phone", "INVALID"),
        ({"name": "A", "email": "not-an-email"}, "email", "INVALID"),
        ({"name": "A", "birthday": "2999-01-01"}, "birthday", "INVALID"),
        ({"name": "A", "tags": ["a,b"]}, "tags", "INVALID"),
        ({"name": "A", "customFields": {"nested": {"x": 1}}}, "customFields", "INVALID"),
        ({"name": "A", "customFields": [1, 2]}, "customFields", "INVALID"),
    ],
)
async def test_invalid_customer_input_is_refused_and_nothing_is_stored(gql, fields, field, code):
    result = await create(gql, **fields)
    assert result["customer"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [(field, code)]
    assert await Customer.all().count() == 0


async def test_every_invalid_field_is_reported_at_once(gql):
    result = await create(gql, name="A", phone="12", email="nope")
    assert {e["field"] for e in result["errors"]} == {"phone", "email"}


async def test_duplicate_phone_or_email_is_refused_naming_the_existing_customer(gql):
    first = (await create(gql, name="张伟", phone="13812345678", email="zw@example.com"))["customer"]

    by_phone = await create(gql, name="Someone", phone="+86 138-1234-5678")
    assert by_phone["customer"] is None
    assert by_phone["errors"] == [
        {
            "field": "phone",
            "message": "a customer with this phone already exists.",
            "code": "DUPLICATE",
            "existingId": first["id"],
        }
    ]
    by_email = await create(gql, name="Someone", email="ZW@example.com")
    assert by_email["errors"][0]["code"] == "DUPLICATE"
    assert by_email["errors"][0]["existingId"] == first["id"]
    assert await Customer.all().count() == 1


async def test_a_deleted_customer_frees_its_phone_and_email(gql):
    first = (await create(gql, name="Old", phone="13812345678"))["customer"]
    deleted = (await gql(DELETE, {"id": first["id"]}))["data"]["deleteCustomer"]
    assert deleted == {"deletedId": first["id"], "errors": []}

    again = await create(gql, name="New", phone="13812345678")
    assert again["errors"] == []
    assert await Customer.filter(deleted_at=None).count() == 1
    assert await Customer.all().count() == 2


async def test_update_changes_only_given_fields_and_null_clears(gql):
    customer = (await create(gql, name="A", phone="13812345678", email="a@example.com", tags=["x"]))["customer"]
    result = (await gql(UPDATE, {"input": {"id": customer["id"], "email": None, "tags": ["y", "z"]}}))["data"]
    updated = result["updateCustomer"]["customer"]
    assert result["updateCustomer"]["errors"] == []
    assert updated["phone"] == "+8613812345678"
    assert updated["email"] is None
    assert updated["tags"] == ["y", "z"]
    stored = await Customer.get(id=(await Customer.first()).id)
    assert stored.email is None and stored.name == "A"


async def test_update_refuses_a_phone_another_customer_holds(gql):
    await create(gql, name="A", phone="13812345678")
    b = (await create(gql, name="B", phone="13912345678"))["customer"]
    result = (await gql(UPDATE, {"input": {"id": b["id"], "phone": "13812345678"}}))["data"]["updateCustomer"]
    assert result["customer"] is None
    assert result["errors"][0]["code"] == "DUPLICATE"
    assert (await Customer.get(name="B")).phone == "+8613912345678"


async def test_update_keeps_own_phone_without_calling_it_a_duplicate(gql):
    a = (await create(gql, name="A", phone="13812345678"))["customer"]
    result = (await gql(UPDATE, {"input": {"id": a["id"], "phone": "13812345678", "name": "A2"}}))["data"]
    assert result["updateCustomer"]["errors"] == []
    assert result["updateCustomer"]["customer"]["name"] == "A2"


async def test_update_of_unknown_or_malformed_id_is_an_error_and_changes_nothing(gql):
    unknown = "Q3VzdG9tZXI6OTk5OQ=="  # Customer:9999
    result = (await gql(UPDATE, {"input": {"id": unknown, "name": "x"}}))["data"]["updateCustomer"]
    assert result["errors"][0]["code"] == "NOT_FOUND"
    malformed = (await gql(UPDATE, {"input": {"id": "!!", "name": "x"}}))["data"]["updateCustomer"]
    assert malformed["errors"] == [
        {"field": "id", "message": "id is not a valid ID.", "code": "INVALID", "existingId": None}
    ]


async def test_a_deleted_customer_is_gone_from_reads_but_kept_in_the_database(gql):
    customer = (await create(gql, name="Gone"))["customer"]
    await gql(DELETE, {"id": customer["id"]})
    assert (await gql.data(CUSTOMER, {"id": customer["id"]}))["customer"] is None
    assert (await gql.data(LIST, {}))["customers"]["totalCount"] == 0
    assert (await Customer.get(name="Gone")).deleted_at is not None
    again = (await gql(DELETE, {"id": customer["id"]}))["data"]["deleteCustomer"]
    assert again["errors"] == [{"field": "id", "code": "NOT_FOUND"}]


async def test_customers_page_forwards_and_backwards_by_keyset(gql):
    names = [f"C{i:02d}" for i in range(7)]
    for name in names:
        await create(gql, name=name)
    order = {"field": "NAME", "direction": "ASC"}

    first = (await gql.data(LIST, {"first": 3, "orderBy": order}))["customers"]
    assert [e["node"]["name"] for e in first["edges"]] == ["C00", "C01", "C02"]
    assert first["totalCount"] == 7
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False

    second = (await gql.data(LIST, {"first": 3, "after": first["pageInfo"]["endCursor"], "orderBy": order}))
    page = second["customers"]
    assert [e["node"]["name"] for e in page["edges"]] == ["C03", "C04", "C05"]
    assert page["pageInfo"]["hasPreviousPage"] is True

    back = await gql.data(LIST, {"last": 2, "before": page["pageInfo"]["startCursor"], "orderBy": order})
    assert [e["node"]["name"] for e in back["customers"]["edges"]] == ["C01", "C02"]
    assert back["customers"]["pageInfo"]["hasPreviousPage"] is True

    tail = await gql.data(LIST, {"last": 2, "orderBy": order})
    assert [e["node"]["name"] for e in tail["customers"]["edges"]] == ["C05", "C06"]


async def test_default_order_is_newest_first(gql):
    for name in ("old", "mid", "new"):
        await create(gql, name=name)
    page = (await gql.data(LIST, {}))["customers"]
    assert [e["node"]["name"] for e in page["edges"]] == ["new", "mid", "old"]


async def test_a_cursor_from_another_ordering_is_refused(gql):
    await create(gql, name="a")
    await create(gql, name="b")
    cursor = (await gql.data(LIST, {"first": 1}))["customers"]["pageInfo"]["endCursor"]
    body = await gql(LIST, {"first": 1, "after": cursor, "orderBy": {"field": "NAME"}})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    garbage = await gql(LIST, {"first": 1, "after": "not-a-cursor"})
    assert garbage["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_filter_by_search_tags_source_and_creation_time(gql):
    await create(gql, name="王芳", phone="13800001111", email="wang@example.com", tags=["VIP"], source="WECHAT")
    await create(gql, name="Wang Lei", phone="13900002222", tags=["VIP", "wholesale"], source="STORE")
    await create(gql, name="Li Na", email="lina@shop.example.com", source="WEBSITE")

    async def names(filter_: dict) -> list[str]:
        page = (await gql.data(LIST, {"filter": filter_, "orderBy": {"field": "NAME"}}))["customers"]
        assert page["totalCount"] == len(page["edges"])
        return [e["node"]["name"] for e in page["edges"]]

    assert await names({"search": "wang"}) == ["Wang Lei", "王芳"]
    assert await names({"search": "王"}) == ["王芳"]
    assert await names({"search": "0000"}) == ["Wang Lei", "王芳"]
    assert await names({"search": "2222"}) == ["Wang Lei"]
    assert await names({"search": "shop.example"}) == ["Li Na"]
    assert await names({"search": "%"}) == []
    assert await names({"tags": ["VIP"]}) == ["Wang Lei", "王芳"]
    assert await names({"tags": ["VIP", "wholesale"]}) == ["Wang Lei"]
    assert await names({"source": ["WECHAT", "WEBSITE"]}) == ["Li Na", "王芳"]
    assert await names({"createdAfter": "2000-01-01T00:00:00Z", "createdBefore": "2999-01-01T00:00:00Z"}) == [
        "Li Na",
        "Wang Lei",
        "王芳",
    ]
    assert await names({"createdAfter": "2999-01-01T00:00:00Z"}) == []


async def test_first_over_100_is_refused(gql):
    body = await gql(LIST, {"first": 101})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}
    assert "100" in body["errors"][0]["message"]


@pytest.mark.parametrize(("field", "expected"), [("ID", ["c", "b", "a"]), ("UPDATED_AT", ["a", "c", "b"])])
async def test_order_by_id_and_updated_at(gql, field, expected):
    ids = {}
    for name in ("a", "b", "c"):
        ids[name] = (await create(gql, name=name))["customer"]["id"]
    await gql(UPDATE, {"input": {"id": ids["a"], "notes": "touched"}})
    first = (await gql.data(LIST, {"first": 2, "orderBy": {"field": field}}))["customers"]
    rest = await gql.data(LIST, {"first": 2, "after": first["pageInfo"]["endCursor"], "orderBy": {"field": field}})
    names = [e["node"]["name"] for e in first["edges"] + rest["customers"]["edges"]]
    assert names == expected


def test_the_pool_size_setting_reaches_the_driver():
    from models.db import tortoise_config
    from server.settings import Settings

    settings = Settings.from_env({"KEHU_DATABASE_URL": "postgres://u@h/db", "KEHU_DB_POOL_SIZE": "37"})
    credentials = tortoise_config(settings.database_url, settings.db_pool_size)["connections"]["default"]["credentials"]
    assert credentials["maxsize"] == 37
